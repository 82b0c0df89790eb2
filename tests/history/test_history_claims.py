"""The README's Prediction history claims not checked elsewhere: SQLite's journal and transactions, the
writer's batches, the database timeout, throttled warnings, retention's pace, the listing's order."""

import os
import stat
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy import event

from api import constants as c
from api.history import outcome as history_outcome
from api.history import store as history_store
from api.history import writer as historyd
from api.history.client import WriterClient
from api.history.engine import SQLITE_ROWS_PER_STATEMENT, make_engine
from api.history.messages import Record
from api.history.queue import HistoryQueue
from api.history.store import Store
from api.settings import Settings
from tests.e2e import ROOT

DELETE_BY_ID = "DELETE FROM predictions WHERE predictions.id"


def record(*keys, texts=None):
    """Return one request's record: a Positive score per key, for the freqlr model."""
    return Record(
        datetime.now(UTC), "alice", list(keys), texts, {"freqlr": [1.0] * len(keys)}, {"freqlr": "v1"}
    )


def rows(url):
    """Return every stored row, oldest first, as dicts."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                dict(row._mapping) for row in conn.execute(sa.text("SELECT * FROM predictions ORDER BY id"))
            ]
    finally:
        engine.dispose()


def wait_until(predicate, timeout=30.0):
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds (a bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not true within {timeout} s: {predicate}"
        time.sleep(0.02)  # polling loop with a deadline


class Clock:
    """Stands for the ``time`` module of one module under test: a monotonic clock the test moves."""

    def __init__(self, events=None):
        self.now = 1000.0
        self.events = events

    def monotonic(self):
        """Return the test's time."""
        return self.now

    def sleep(self, seconds):
        """Note a yield to other greenlets instead of sleeping."""
        if self.events is not None:
            self.events.append(("yield", seconds))


def transcript(engine):
    """Return a list that fills with the engine's transactions and statements, in order."""
    events = []
    event.listen(engine, "begin", lambda conn: events.append(("begin",)))
    event.listen(engine, "commit", lambda conn: events.append(("commit",)))

    def executed(conn, cursor, statement, parameters, context, executemany):
        events.append(("execute", statement, parameters))

    event.listen(engine, "before_cursor_execute", executed)
    return events


@pytest.fixture
def sqlite_url(tmp_path):
    """The URL of a SQLite history file in the test's folder."""
    return f"sqlite:///{tmp_path / 'history.db'}"


def test_sqlite_history_uses_a_write_ahead_log_with_synchronous_normal(sqlite_url):
    store = Store(sqlite_url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        store.dispose()


def _inserts(events):
    """Return the rows of each multi-row INSERT in ``events``, checking its parameters are plain values."""
    counts = []
    for _, statement, parameters in (e for e in events if e[0] == "execute"):
        assert statement.startswith("INSERT INTO predictions")
        assert isinstance(parameters, tuple | list), type(parameters)
        assert not any(isinstance(p, tuple | list | dict) for p in parameters)
        counts.append(statement.count("(?"))
    return counts


@pytest.mark.parametrize("shared_loop", [True, False], ids=["in-app", "writer-process"])
def test_sqlite_rows_go_in_multi_row_inserts_short_transactions_in_app_one_in_the_writer(
    sqlite_url, monkeypatch, shared_loop
):
    store = Store(sqlite_url, shared_loop=shared_loop)
    try:
        assert store.insert([record("warm-up")])  # migrates, and runs retention once
        store.retention_interval = float("inf")  # no retention's statements in the transcript
        events = transcript(store.engine)
        monkeypatch.setattr(history_store, "time", Clock(events))
        total = 2 * SQLITE_ROWS_PER_STATEMENT + 178
        assert store.insert([record(*(f"k{i}" for i in range(total)))])
    finally:
        store.dispose()
    assert SQLITE_ROWS_PER_STATEMENT == 455
    assert _inserts(events) == [455, 455, 178]
    execute = [e[0] for e in events]
    if shared_loop:
        # One transaction per INSERT, and a turn for waiting requests between two, never inside one.
        one = ["begin", "execute", "commit"]
        assert execute == [*one, "yield", *one, "yield", *one]
        assert [e[1] for e in events if e[0] == "yield"] == [0, 0]
    else:
        assert execute == ["begin", "execute", "execute", "execute", "commit"]
    assert len(rows(sqlite_url)) == total + 1


def test_the_writer_writes_what_workers_sent_meanwhile_in_one_batch(tmp_path, sqlite_url, monkeypatch):
    history_store.upgrade(sqlite_url)  # as the master does at start-up: rows() can read at once
    store = Store(sqlite_url, shared_loop=False)
    gate, batches = threading.Event(), []
    insert = store.insert

    def held_insert(records):
        batches.append(sorted(key for r in records for key in r.keys))
        if "held" in batches[-1]:
            gate.wait(10)  # a slow write: the workers keep sending meanwhile
        return insert(records)

    monkeypatch.setattr(store, "insert", held_insert)
    writer = historyd.Writer(store, tmp_path / "writer.sock").start()
    try:
        first, second = WriterClient(writer.socket_path), WriterClient(writer.socket_path)
        assert first.insert([record("w1")]) and second.insert([record("w2")])
        wait_until(lambda: len(rows(sqlite_url)) == 2)
        assert first.insert([record("held")])
        wait_until(lambda: ["held"] in batches)
        assert first.insert([record("b")]) and second.insert([record("c")])
        assert first.insert([record("d")])
        gate.set()
        wait_until(lambda: len(rows(sqlite_url)) == 6)
    finally:
        gate.set()
        writer.stop()
        store.dispose()
    assert batches[-2:] == [["held"], ["b", "c", "d"]]


class Refused(Exception):
    """Raised instead of connecting: the test only reads what the driver would be given."""


@pytest.mark.parametrize(
    "url", ["mysql+pymysql://root@127.0.0.1:1/none", "postgresql+psycopg://postgres@127.0.0.1:1/none"]
)
def test_connections_to_the_database_time_out_after_3_seconds(url):
    engine = make_engine(url)
    given = []

    def capture(dialect, record, cargs, cparams):
        given.append(cparams)
        raise Refused

    event.listen(engine, "do_connect", capture)
    with pytest.raises(Refused):
        engine.connect()
    engine.dispose()
    assert given[0]["connect_timeout"] == 3


@pytest.fixture
def unwritable_url(tmp_path):
    """A SQLite URL under a regular file: every write fails."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    return f"sqlite:///{blocker / 'history.db'}"


def test_a_failing_database_is_logged_once_a_minute_at_most_without_tweet_text(
    unwritable_url, monkeypatch, caplog
):
    clock = Clock()
    monkeypatch.setattr(history_outcome, "time", clock)
    store = Store(unwritable_url)
    text = "a secret tweet about marmosets"

    def warnings():
        return [r for r in caplog.records if r.getMessage().startswith("history write failed")]

    with caplog.at_level("WARNING", logger="api.history.store"):
        for step in (0, 1, 58):
            clock.now += step
            assert store.insert([record("a", texts=[text])]) is False
        assert len(warnings()) == 1
        clock.now += 1  # 60 s after the first warning
        assert store.insert([record("a", texts=[text])]) is False
    store.dispose()
    assert len(warnings()) == 2 and store.outcome.failures == 4
    assert text not in caplog.text


def test_retention_runs_after_a_write_at_most_once_a_minute_in_two_ranged_deletes(sqlite_url, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(history_store, "time", clock)
    store = Store(sqlite_url, max_rows=2)
    try:
        assert store.insert([record("a", "b", "c")])  # the first write's retention keeps 2
        assert [row["tweet_id"] for row in rows(sqlite_url)] == ["b", "c"]
        clock.now += 59
        assert store.insert([record("d", "e")])  # within the minute: no retention
        assert len(rows(sqlite_url)) == 4
        events = transcript(store.engine)
        clock.now += 1
        assert store.insert([record("f")])
    finally:
        store.dispose()
    assert [row["tweet_id"] for row in rows(sqlite_url)] == ["e", "f"]
    deletes = [e[1] for e in events if e[0] == "execute" and e[1].startswith("DELETE")]
    assert [d.split(" ?")[0] for d in deletes] == [f"{DELETE_BY_ID} <", f"{DELETE_BY_ID} <="]


def test_the_listing_is_newest_first_in_the_order_rows_were_stored_not_by_their_time(
    make_app, auth_header, sqlite_url
):
    app = make_app(HISTORY_URL=sqlite_url)
    client = app.test_client()
    history = app.extensions[c.EXT_HISTORY]
    assert client.post("/api/v1/predict", json={"first": "a tweet"}, headers=auth_header).status_code == 200
    history.flush()
    # Stored second, with a time ten days earlier (a clock set back).
    with time_machine.travel(datetime.now(UTC) - timedelta(days=10), tick=True):
        assert client.post("/api/v1/predict", json={"second": "a"}, headers=auth_header).status_code == 200
        history.flush()
    listed = client.get("/api/v1/predictions", headers=auth_header).json["predictions"]
    history.store.dispose()
    assert [row["id"] for row in listed] == ["second", "first"]


def test_defaults_sqlite_in_instance_a_200000_row_queue_and_a_writer_at_nice_19(monkeypatch):
    for name in ("API_HISTORY_URL", "API_HISTORY_WRITER_NICE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    url, nice = settings.HISTORY_URL, settings.HISTORY_WRITER_NICE
    assert (url, nice) == (f"sqlite:///{ROOT / 'instance' / 'history.db'}", 19)
    assert HistoryQueue(WriterClient("unused.sock")).capacity == 200_000


def test_a_database_file_made_earlier_keeps_its_own_mode(tmp_path, sqlite_url):
    path = tmp_path / "history.db"
    path.touch()
    path.chmod(0o644)  # as an earlier version, or the umask, made it
    store = Store(sqlite_url)
    try:
        assert store.insert([record("a")])
    finally:
        store.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_make_migrate_brings_the_database_to_the_newest_schema(tmp_path, sqlite_url):
    env = {**os.environ, "API_HISTORY_URL": sqlite_url}
    done = subprocess.run(
        ["make", "--no-print-directory", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(sqlite_url)
    try:
        assert history_store.schema_is_current(engine, history_store.head_revision(sqlite_url))
    finally:
        engine.dispose()
