"""`python -m api history export-feedback OUT.csv`: labelled tweets whose text was kept, for retraining."""

import csv
import stat
from datetime import UTC, datetime

from api.history import store as history_store
from api.history.messages import Record
from api.ops.cli import main
from model.serving.labels import LABELS
from model.training.feedback import read_feedback


def stored_feedback(url):
    """Fill the history at ``url``: alice's texts kept and labelled, bob's labelled without their text."""
    history_store.upgrade(url)
    store = history_store.Store(url)
    try:
        texts = ["I love it, so good", 'she said "meh", then left\nfor good']
        scores, versions = {"freqlr": [2.0, -2.0], "nblr": [2.0, -2.0]}, {"freqlr": "v1", "nblr": "v1"}
        assert store.insert([Record(datetime.now(UTC), "alice", ["a1", "a2"], texts, scores, versions)])
        assert store.insert(
            [Record(datetime.now(UTC), "bob", ["b1"], None, {"freqlr": [1.0]}, {"freqlr": "v1"})]
        )
        assert store.add_feedback("alice", {"a2": "Positive", "a1": "Positive"}) == (4, [])
        assert store.add_feedback("bob", {"b1": "Negative"}) == (1, [])
    finally:
        store.dispose()
    return texts


def test_the_export_writes_id_text_label_once_per_labelled_tweet_with_text_in_a_0600_file(
    tmp_path, monkeypatch, capsys
):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    texts = stored_feedback(url)
    monkeypatch.setenv("API_HISTORY_URL", url)
    out = tmp_path / "feedback.csv"
    assert main(["history", "export-feedback", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    # In the order the feedback came; bob's tweet is left out: its text was not kept.
    assert rows == [["id", "text", "label"], ["a2", texts[1], "Positive"], ["a1", texts[0], "Positive"]]
    assert "2 feedback row(s)" in capsys.readouterr().err


def test_the_export_never_writes_through_an_existing_file(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    stored_feedback(url)
    monkeypatch.setenv("API_HISTORY_URL", url)
    out = tmp_path / "taken.csv"
    out.write_text("keep me")
    assert main(["history", "export-feedback", str(out)]) == 1
    assert out.read_text() == "keep me"
    assert "cannot create" in capsys.readouterr().err


def test_a_failed_export_leaves_no_file_and_no_history_none_exports_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("API_HISTORY_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    out = tmp_path / "feedback.csv"
    assert main(["history", "export-feedback", str(out)]) == 1
    assert not out.exists()
    assert "feedback export failed: OperationalError" in capsys.readouterr().err
    monkeypatch.setenv("API_HISTORY_URL", "none")
    assert main(["history", "export-feedback", str(out)]) == 1
    assert not out.exists()


def test_make_train_reads_the_export_as_it_was_written(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    texts = stored_feedback(url)  # one of them quoted and on two lines
    monkeypatch.setenv("API_HISTORY_URL", url)
    out = tmp_path / "feedback.csv"
    assert main(["history", "export-feedback", str(out)]) == 0
    positive = LABELS.index("Positive")
    assert read_feedback(out) == [(texts[1], positive), (texts[0], positive)]
