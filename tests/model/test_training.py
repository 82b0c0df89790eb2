"""Training on the fixed split: determinism, the manifest, data errors, evaluation."""

import json
import re

import pytest

from model.__main__ import main
from model.serving import artifacts, drift
from model.training.data import DataError, fixed_split, read_rows
from model.training.train import train
from tests.samples import write_csv


def _train(csv_path, out_dir):
    """Train every model, settings chosen by cross-validation; return {name: manifest entry}."""
    return train(csv_path, out_dir, train_per_class=30, created="2026-01-01T00:00:00+00:00")


def test_training_twice_gives_byte_identical_artifacts(small_csv, tmp_path):
    _train(small_csv, tmp_path / "a")
    _train(small_csv, tmp_path / "b")
    for name in ("freqlr.json", "nblr.json.gz", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_every_model_is_trained_and_recorded(small_csv, tmp_path):
    entries = _train(small_csv, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(entries) == sorted(manifest["models"]) == ["freqlr", "nblr"]
    for name, entry in entries.items():
        cv = entry["metrics"]["cross_validation"]
        assert cv["folds"] == 5
        assert str(entry["params"][cv["param"]]) in cv["accuracy_by_setting"]
        assert (
            manifest["files"][entry["file"]]
            == artifacts.hashlib.sha256((tmp_path / entry["file"]).read_bytes()).hexdigest()
        ), name


def test_manifest_records_what_a_reader_needs(small_csv, tmp_path):
    entry = _train(small_csv, tmp_path)["freqlr"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["default_model"] == "freqlr"
    assert manifest["created"] == "2026-01-01T00:00:00+00:00"
    assert (
        manifest["files"]["freqlr.json"]
        == artifacts.hashlib.sha256((tmp_path / "freqlr.json").read_bytes()).hexdigest()
    )
    assert entry["training_data"]["sha256"] == artifacts.hashlib.sha256(small_csv.read_bytes()).hexdigest()
    assert entry["training_data"]["train_rows"] == 60
    assert entry["training_data"]["heldout_rows"] == 20
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "brier"} <= entry["metrics"].keys()
    assert entry["version"].startswith("v3-")


def test_loaded_models_are_the_trained_ones(small_csv, tmp_path):
    entries = _train(small_csv, tmp_path)
    loaded, default = artifacts.load_all(tmp_path)
    assert default == "freqlr"
    for name, (model, entry) in loaded.items():
        assert entry == entries[name]
        assert model.predict_labels(["love it :)", "hate it :("]) == ["Positive", "Negative"], name


def test_fixed_split_is_in_file_order_per_class(tmp_path):
    rows = [("n0", 0), ("p0", 1), ("n1", 0), ("n2", 0), ("p1", 1), ("p2", 1)]
    split = fixed_split(rows, train_per_class=2)
    assert split.train_texts == ["n0", "p0", "n1", "p1"]
    assert split.test_texts == ["n2", "p2"]
    assert split.test_labels == [0, 1]


def test_split_needs_enough_rows_per_class():
    with pytest.raises(DataError, match="class 1 has 1 rows"):
        fixed_split([("a", 0), ("b", 0), ("c", 1)], train_per_class=1)


def test_bad_data_files_are_refused_clearly(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_rows(tmp_path / "missing.csv")
    (tmp_path / "cols.csv").write_text("id,tweet\n1,hi\n")
    with pytest.raises(DataError, match="missing column"):
        read_rows(tmp_path / "cols.csv")
    (tmp_path / "label.csv").write_text("id,date,text,target\n1,d,hi,4\n")
    with pytest.raises(DataError, match=":2: target must be 0 or 1"):
        read_rows(tmp_path / "label.csv")


def test_cli_train_then_evaluate(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv")
    out = tmp_path / "art"
    assert main(["train", "--data", str(data), "--artifacts", str(out), "--train-per-class", "30"]) == 0
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(data),
                "--artifacts",
                str(out),
                "--train-per-class",
                "30",
                "--out",
                str(tmp_path / "rep"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    for word in ("accuracy", "precision", "recall", "f1", "roc_auc", "brier", "freqlr", "nblr"):
        assert word in printed
    report = tmp_path / "rep" / "report.md"
    assert f"report: {report}" in printed
    text = report.read_text(encoding="utf-8")
    for heading in ("## Held-out metrics", "## Cross-validation", "## Calibration", "## Error analysis"):
        assert heading in text
    for name in ("freqlr", "nblr"):
        assert f"| {name}" in text and f"### {name}" in text
    assert "| freqlr ★ |" in text  # the manifest's default model is marked
    assert "ECE" in text and "Brier" in text
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert {
        "calibration.png",
        "roc_curve.png",
        "confusion_matrix_freqlr.png",
        "confusion_matrix_nblr.png",
    } <= set(images)
    for image in images:
        assert (report.parent / image).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), image


def test_cli_reports_missing_data_without_a_traceback(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "none.csv"), "--artifacts", str(tmp_path)]) == 1
    assert "data set not found" in capsys.readouterr().err


def test_each_entry_keeps_the_heldout_reference_of_the_drift_monitor(small_csv, tmp_path):
    entries = _train(small_csv, tmp_path)
    heldout = fixed_split(read_rows(small_csv), 30).test_texts
    for name, (model, _) in artifacts.load_all(tmp_path)[0].items():
        reference = entries[name]["reference"]
        probabilities = model.predict_proba(heldout)
        assert reference["rows"] == len(heldout) == 20
        assert reference["bins"] == drift.BINS
        assert reference["shares"] == [round(s, 6) for s in drift.shares(probabilities)]
        assert sum(reference["shares"]) == pytest.approx(1.0)
        shares = model.unknown_shares(heldout)
        assert reference["unknown_share"] == pytest.approx(sum(shares) / len(shares), abs=1e-6)
