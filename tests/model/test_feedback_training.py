"""Training with feedback rows (the API's export): added to the training part only, and recorded."""

import csv

import pytest

from model.__main__ import main
from model.errors import DataError
from model.serving import artifacts
from model.training.data import fixed_split, read_rows
from model.training.train import train
from tests.samples import write_csv

SETTINGS = {"freqlr": 3.0, "nblr": 1.0}  # fixed: no cross-validation, the tests stay short


def _feedback(path, rows):
    """Write a feedback export: id,text,label."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label"])
        writer.writerows(rows)
    return path


def _train(data, out, feedback=None):
    return train(
        data,
        out,
        train_per_class=30,
        settings=SETTINGS,
        created="2026-01-01T00:00:00+00:00",
        feedback=feedback,
    )


@pytest.fixture
def data(tmp_path):
    return write_csv(tmp_path / "small.csv")


def test_feedback_rows_train_and_are_recorded(data, tmp_path):
    rows = [(f"p{i}", "zorblax made my day", "Positive") for i in range(6)]
    rows += [(f"n{i}", "quuxly ruined it", "Negative") for i in range(6)]
    path = _feedback(tmp_path / "feedback.csv", rows)
    entries = _train(data, tmp_path / "out", path)
    for name, entry in entries.items():
        recorded = entry["training_data"]
        assert recorded["train_rows"] == 60 + 12, name
        assert recorded["heldout_rows"] == 20, name
        assert recorded["feedback"] == {
            "file": "feedback.csv",
            "sha256": artifacts.hashlib.sha256(path.read_bytes()).hexdigest(),
            "rows": 12,
        }
    model, _ = artifacts.load(tmp_path / "out", "freqlr")
    assert model.featurizer_.log_ratio_["zorblax"] > 0 > model.featurizer_.log_ratio_["quuxli"]


def test_feedback_never_reaches_the_heldout_part(data, tmp_path):
    heldout = fixed_split(read_rows(data), 30)
    path = _feedback(tmp_path / "feedback.csv", [("x", text, "Positive") for text in heldout.test_texts[:5]])
    plain = _train(data, tmp_path / "plain")
    grown = _train(data, tmp_path / "grown", path)
    for name in plain:
        assert grown[name]["metrics"]["support"] == plain[name]["metrics"]["support"] == 20
        assert grown[name]["reference"]["rows"] == 20
        assert "feedback" not in plain[name]["training_data"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [([("1", "good", "positive")], "Positive or Negative"), ([("1", "good", "")], "Positive or Negative")],
)
def test_bad_feedback_labels_are_refused_with_their_line(data, tmp_path, rows, message):
    path = _feedback(tmp_path / "feedback.csv", rows)
    with pytest.raises(DataError, match=f"feedback.csv:2: label must be {message}"):
        _train(data, tmp_path / "out", path)


def test_feedback_without_its_columns_is_refused(data, tmp_path):
    path = tmp_path / "feedback.csv"
    path.write_text("id,tweet,label\n1,good,Positive\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        _train(data, tmp_path / "out", path)


def test_cli_train_takes_a_feedback_file(data, tmp_path, capsys):
    path = _feedback(tmp_path / "feedback.csv", [("1", "zorblax", "Positive")])
    out = tmp_path / "out"
    args = ["train", "--data", str(data), "--artifacts", str(out), "--train-per-class", "30"]
    status = main([*args, "--alpha", "3", "--nblr-C", "1", "--feedback", str(path)])
    assert status == 0, capsys.readouterr().err
    entry = artifacts.read_manifest(out)["models"]["freqlr"]
    assert entry["training_data"]["feedback"]["rows"] == 1
    assert main([*args, "--feedback", str(tmp_path / "missing.csv")]) == 1
    assert "feedback file not found" in capsys.readouterr().err
