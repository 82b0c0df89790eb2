"""The store's feedback and monitoring queries, on SQLite, MariaDB and PostgreSQL (api/history/store.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from api.history import store as history_store
from api.history.messages import Record
from api.history.schema import Feedback
from api.history.store import Store
from tests.history.helpers import db_url  # noqa: F401 - the shared fixture, used by name

# Log-odds of a clear Positive and a clear Negative answer.
POS, NEG = 3.0, -3.0


def record(token, scores, versions=None, texts=None, sampled=None, unknown=None, keys=None):
    """Return a request's record: ``scores`` is {model: [log-odds]}, its keys k0, k1, ... unless given."""
    count = len(next(iter(scores.values())))
    keys = keys or [f"k{i}" for i in range(count)]
    versions = versions or dict.fromkeys(scores, "v1")
    return Record(datetime.now(UTC), token, keys, texts, scores, versions, sampled, unknown)


@pytest.fixture
def store(db_url):  # noqa: F811
    """A migrated store of a fresh database."""
    history_store.upgrade(db_url)
    made = Store(db_url)
    yield made
    made.dispose()


def feedback_rows(store):
    """Return the feedback table's rows as dicts, oldest first."""
    with store.engine.connect() as conn:
        query = sa.select(Feedback.__table__).order_by(Feedback.id)
        return [dict(row._mapping) for row in conn.execute(query)]


def test_feedback_joins_the_newest_answer_of_the_token_and_id_per_model(store):
    assert store.insert([record("alice", {"freqlr": [NEG], "nblr": [NEG]}, keys=["t1"])])
    # Asked again later, with another freqlr version answering Positive: that answer is the one joined.
    assert store.insert([record("alice", {"freqlr": [POS]}, {"freqlr": "v2"}, keys=["t1"])])
    assert store.add_feedback("alice", {"t1": "Positive"}) == (2, [])
    rows = {(r["model"], r["version"]): (r["label"], r["predicted"]) for r in feedback_rows(store)}
    assert rows == {("freqlr", "v2"): ("Positive", "Positive"), ("nblr", "v1"): ("Positive", "Negative")}


def test_an_id_the_token_never_scored_is_named_and_nothing_is_stored(store):
    assert store.insert([record("alice", {"freqlr": [POS, NEG]})])
    assert store.insert([record("bob", {"freqlr": [POS]}, keys=["bobs"])])
    assert store.add_feedback("alice", {"k0": "Positive", "bobs": "Negative", "k1": "Negative"}) == (
        0,
        ["bobs"],
    )
    assert store.add_feedback("alice", {"nowhere": "Positive", "k0": "Positive"}) == (0, ["nowhere"])
    assert feedback_rows(store) == []  # all or nothing: k0 and k1 are not kept either


def test_a_second_label_for_a_tweet_replaces_the_first(store):
    assert store.insert([record("alice", {"freqlr": [POS]})])
    assert store.add_feedback("alice", {"k0": "Negative"}) == (1, [])
    assert store.add_feedback("alice", {"k0": "Positive"}) == (1, [])
    assert [(r["tweet_id"], r["label"]) for r in feedback_rows(store)] == [("k0", "Positive")]


def test_live_accuracy_counts_the_newest_window_rows_of_each_model_and_version(store):
    answers = [POS, POS, NEG, NEG, POS]
    assert store.insert([record("alice", {"freqlr": answers, "nblr": [NEG] * 5})])
    truth = ["Positive", "Negative", "Negative", "Positive", "Positive"]
    for i, label in enumerate(truth):  # one at a time: ids follow the order given
        assert store.add_feedback("alice", {f"k{i}": label}) == (2, [])
    # freqlr answered Positive, Positive, Negative, Negative, Positive: right on k0, k2, k4.
    assert store.live_accuracy(window=100) == {("freqlr", "v1"): (5, 3 / 5), ("nblr", "v1"): (5, 2 / 5)}
    # The newest three feedback rows: k2, k3, k4; nblr (always Negative) is right on k2 only.
    assert store.live_accuracy(window=3) == {("freqlr", "v1"): (3, 2 / 3), ("nblr", "v1"): (3, 1 / 3)}


def test_drift_windows_read_the_newest_rows_and_the_sampled_unknown_shares(store):
    older = record("alice", {"freqlr": [NEG] * 4})
    newer = record(
        "alice", {"freqlr": [POS] * 4, "nblr": [NEG] * 4}, sampled=[0, 2], unknown={"freqlr": [0.5, 0.25]}
    )
    assert store.insert([older, newer])
    windows = store.drift_windows([("freqlr", "v1"), ("nblr", "v1"), ("freqlr", "gone")], window=6, scan=100)
    scores, unknown = windows[("freqlr", "v1")]
    assert scores == pytest.approx([0.9525741268] * 4 + [0.0474258732] * 2)  # sigmoid(3), sigmoid(-3)
    assert sorted(unknown) == [0.25, 0.5]  # only the sampled rows, of the model sampled
    assert windows[("nblr", "v1")] == ([pytest.approx(0.0474258732)] * 4, [])
    assert windows[("freqlr", "gone")] == ([], [])


def test_the_drift_window_is_looked_for_among_the_newest_scan_rows_only(store):
    assert store.insert([record("alice", {"nblr": [POS] * 3})])
    assert store.insert([record("alice", {"freqlr": [POS] * 10})])
    assert store.drift_windows([("nblr", "v1")], window=5, scan=10) == {("nblr", "v1"): ([], [])}
    assert len(store.drift_windows([("nblr", "v1")], window=5, scan=13)[("nblr", "v1")][0]) == 3


def test_the_export_gives_each_tweet_once_with_its_stored_text(store):
    texts = ["so good", "so bad"]
    assert store.insert([record("alice", {"freqlr": [POS, NEG], "nblr": [POS, NEG]}, texts=texts)])
    assert store.insert([record("bob", {"freqlr": [POS]}, keys=["b0"])])  # text not kept
    assert store.add_feedback("alice", {"k1": "Negative", "k0": "Negative"}) == (4, [])
    assert store.add_feedback("bob", {"b0": "Positive"}) == (1, [])
    assert list(store.feedback_texts()) == [("k1", "so bad", "Negative"), ("k0", "so good", "Negative")]


def test_feedback_is_kept_no_longer_and_no_more_than_predictions(store):
    assert store.insert([record("alice", {"freqlr": [POS] * 4})])
    store.max_rows = 2
    assert store.add_feedback("alice", {"k0": "Positive", "k1": "Positive", "k2": "Positive"}) == (3, [])
    assert [r["tweet_id"] for r in feedback_rows(store)] == ["k1", "k2"]
    store.max_age = timedelta(0)  # every row is now older than the age limit
    store.enforce_retention(Feedback)
    assert feedback_rows(store) == []


def test_a_database_that_does_not_answer_raises_the_read_error(tmp_path):
    broken = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        for call in (
            lambda: broken.add_feedback("alice", {"k0": "Positive"}),
            lambda: broken.live_accuracy(10),
            lambda: broken.drift_windows([("freqlr", "v1")], 10, 100),
        ):
            with pytest.raises(history_store.HistoryReadError, match="failed: OperationalError"):
                call()
    finally:
        broken.dispose()


def test_migration_0004_adds_the_feedback_table_its_index_and_a_null_unknown_share_to_existing_rows(db_url):  # noqa: F811
    config = history_store.alembic_config(db_url)
    command.upgrade(config, "0003")
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            row = {"created": datetime(2026, 1, 1), "token": "alice", "tweet_id": "a", "label": "Positive"}
            row |= {"score": 0.9, "model": "freqlr", "version": "v1"}
            conn.execute(sa.table("predictions", *map(sa.column, row)).insert(), [row])
        command.upgrade(config, "head")
        engine.dispose()  # the inspector caches; PostgreSQL's DDL needs other connections closed
        inspector = sa.inspect(engine)
        assert {index["name"] for index in inspector.get_indexes("feedback")} == {
            "ix_feedback_token_tweet",
            "ix_feedback_model_version_id",
        }
        assert "ix_predictions_token_tweet" in {
            index["name"] for index in inspector.get_indexes("predictions")
        }
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT tweet_id, unknown FROM predictions")).all() == [("a", None)]
        command.downgrade(config, "0003")
        engine.dispose()
        inspector = sa.inspect(engine)
        assert "feedback" not in inspector.get_table_names()
        assert "unknown" not in {column["name"] for column in inspector.get_columns("predictions")}
        assert {index["name"] for index in inspector.get_indexes("predictions")} == {
            "ix_predictions_token_id"
        }
    finally:
        engine.dispose()
