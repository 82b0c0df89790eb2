"""The history writer process (api/history/writer.py): wire format, socket, life under Gunicorn."""

import json
import os
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.history import client as history_client
from api.history import messages
from api.history import writer as historyd
from api.history.client import WriterClient
from api.history.messages import Record
from api.history.queue import HistoryQueue
from api.history.schema import Prediction
from api.history.store import Store, upgrade
from api.ops.tokens import create_token
from tests import e2e
from tests.e2e import BODY, LABELS, history_writer_pids, predict, request, running_server, worker_pids
from tests.web.metrics_helpers import value
from tests.web.test_metrics_live import _scrape_live


def item(token="alice", keys=("a", "b"), scores=(1.5, -0.5), created=None):
    """Return one queued request, as HistoryQueue.record makes it."""
    return Record(
        created=created or datetime.now(UTC),
        token=token,
        keys=list(keys),
        texts=None,
        scores={"freqlr": list(scores)},
        versions={"freqlr": "v1-test"},
    )


def rows(url):
    """Return every stored row, oldest first, as dicts."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                dict(row._mapping) for row in conn.execute(sa.select(Prediction.__table__).order_by("id"))
            ]
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    """A migrated SQLite history database."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    upgrade(url)
    return url


@pytest.fixture
def writer(tmp_path, sqlite_url):
    """A Writer serving a socket in ``tmp_path``, over a Store on ``sqlite_url``; stopped afterwards."""
    running = historyd.Writer(Store(sqlite_url, shared_loop=False), tmp_path / "writer.sock").start()
    yield running
    running.stop()
    running.store.dispose()


def test_frames_carry_a_batch_whole_however_the_stream_splits_them():
    batch = [item(), item(token="bob", keys=["😀" * 3], scores=[0.25])]
    stream = messages.encode(batch) + messages.encode([item(token="carol")])
    for step in (1, 7, len(stream)):
        frames = messages.Frames()
        payloads = []
        for start in range(0, len(stream), step):
            payloads += frames.feed(stream[start : start + step])
        decoded = [messages.decode(payload) for payload in payloads]
        assert [len(d) for d in decoded] == [2, 1]
        # The request's time, to the microsecond and zone.
        assert decoded[0][0].created == batch[0].created
        assert decoded[0][0].created.utcoffset() == timedelta(0)
        assert decoded[0] == batch  # every field
        assert decoded[1][0].token == "carol"
        assert frames.buffer == bytearray()


def _record_bytes(**changes):
    """Return the payload of one record that is whole but for ``changes``."""
    fields = {
        "created": "2026-01-01T00:00:00+00:00",
        "token": "t",
        "keys": ["a"],
        "texts": None,
        "scores": {"freqlr": [1.0]},
        "versions": {"freqlr": "v1"},
    }
    return json.dumps([fields | changes]).encode()


def test_a_whole_record_decodes():
    """The baseline of the refusals below: the same record, unchanged, is accepted."""
    (record,) = messages.decode(_record_bytes())
    assert record.keys == ["a"] and record.scores == {"freqlr": [1.0]}


def test_an_oversized_frame_or_a_payload_that_is_not_a_batch_is_refused():
    with pytest.raises(messages.FrameError, match="above"):
        messages.Frames().feed(messages.HEADER.pack(messages.MAX_FRAME + 1))
    fields = '"token": "t", "keys": [], "texts": null, "scores": {}, "versions": {}'
    for payload in (
        b"not json",
        b'{"a": 1}',
        b"[[1, 2]]",
        b'[["2026-01-01T00:00:00+00:00", "t", [], null, {}, {}]]',  # fields by position, not by name
        b'[{"created": "not a time", %s}]' % fields.encode(),
        b'[{"created": "2026-01-01T00:00:00+00:00"}]',  # fields missing
        b'[{"created": "2026-01-01T00:00:00+00:00", "extra": 1, %s}]' % fields.encode(),
        _record_bytes(keys=["a", "b"], scores={"freqlr": [1.0]}),  # fewer scores than keys
        _record_bytes(keys=["a"], texts=["x", "y"]),  # more texts than keys
        _record_bytes(versions={}),  # a model without its version
    ):
        with pytest.raises(messages.FrameError):
            messages.decode(payload)


def test_the_writer_stores_batches_from_several_workers_with_every_field(tmp_path, sqlite_url, writer):
    workers = [WriterClient(writer.socket_path) for _ in range(2)]
    created = datetime(2026, 11, 22, 5, 6, 7, 890123, tzinfo=UTC)
    workers[0].insert([item(token="alice", created=created)])
    workers[1].insert(
        [item(token="bob", keys=["c"], scores=[0.0]), item(token="bob", keys=["d"], scores=[2.0])]
    )
    e2e.wait_until(lambda: len(rows(sqlite_url)) == 4, "4 rows stored")

    stored = rows(sqlite_url)
    alice = [row for row in stored if row["token"] == "alice"]
    assert [(row["tweet_id"], row["label"], row["model"], row["version"]) for row in alice] == [
        ("a", "Positive", "freqlr", "v1-test"),
        ("b", "Negative", "freqlr", "v1-test"),
    ]
    assert alice[0]["score"] == pytest.approx(1 / (1 + pow(2.718281828459045, -1.5)))
    assert alice[0]["created"] == created  # read back as aware UTC
    assert alice[0]["text"] is None
    assert sorted(row["tweet_id"] for row in stored if row["token"] == "bob") == ["c", "d"]
    # A score of exactly 0 is Negative, as the API answers it.
    assert next(row["label"] for row in stored if row["tweet_id"] == "c") == "Negative"

    e2e.wait_until(lambda: messages.read_status(writer.socket_path)["written"] == 4, "4 rows reported")
    status = messages.read_status(writer.socket_path)
    assert status["ok"] is True and status["failures"] == 0 and status["pid"] == os.getpid()
    assert all(worker.outcome.ok and worker.outcome.failures == 0 for worker in workers)


def test_a_connection_sending_garbage_is_dropped_and_the_others_are_still_served(sqlite_url, writer):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bad:
        bad.connect(writer.socket_path)
        bad.sendall(messages.HEADER.pack(5) + b"nope!")
        worker = WriterClient(writer.socket_path)
        worker.insert([item()])
        e2e.wait_until(lambda: len(rows(sqlite_url)) == 2, "2 rows stored")
        # The writer closed the bad connection: reading from it ends.
        bad.settimeout(5)
        assert bad.recv(1) == b""


def test_without_a_writer_a_batch_is_counted_as_failed_and_sending_resumes_once_one_listens(
    tmp_path, sqlite_url, monkeypatch
):
    monkeypatch.setattr(history_client, "CONNECT_WAIT", 0.2)
    path = tmp_path / "writer.sock"
    worker = WriterClient(path)
    counted = []
    worker.outcome.on_failure = lambda: counted.append(1)

    assert worker.insert([item()]) is False  # nobody listens: dropped, counted, never raised
    assert (worker.outcome.ok, worker.outcome.failures, counted) == (False, 1, [1])
    assert HistoryQueue(worker).state() == {"enabled": True, "ok": False, "failures": 1, "dropped": 0}

    started = historyd.Writer(Store(sqlite_url, shared_loop=False), path).start()
    try:
        assert worker.insert([item(keys=["x"], scores=[1.0])]) is True
        assert worker.outcome.ok
        e2e.wait_until(lambda: [row["tweet_id"] for row in rows(sqlite_url)] == ["x"], "the row stored")
        assert worker.state()["ok"] is True
    finally:
        started.stop()


def test_a_worker_waits_for_a_writer_that_is_starting(tmp_path, sqlite_url):
    path = tmp_path / "writer.sock"
    worker = WriterClient(path)
    late = Store(sqlite_url, shared_loop=False)
    holder = []
    starter = threading.Timer(0.5, lambda: holder.append(historyd.Writer(late, path).start()))
    starter.start()
    try:
        worker.insert([item(keys=["early"], scores=[1.0])])
        assert worker.outcome.ok and worker.outcome.failures == 0
        e2e.wait_until(lambda: [row["tweet_id"] for row in rows(sqlite_url)] == ["early"], "the early row")
    finally:
        starter.join()
        for started in holder:
            started.stop()


def test_a_database_failure_in_the_writer_shows_in_every_workers_state(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    url = f"sqlite:///{blocker / 'history.db'}"
    writer = historyd.Writer(Store(url, shared_loop=False), tmp_path / "writer.sock").start()
    try:
        worker = WriterClient(writer.socket_path)
        worker.insert([item()])
        assert worker.outcome.ok  # the hand-over itself worked
        e2e.wait_until(lambda: messages.read_status(writer.socket_path)["ok"] is False, "the failure")
        state = worker.state()
        assert state["ok"] is False and state["failures"] >= 1
    finally:
        writer.stop()


def test_stopping_the_writer_first_writes_what_was_already_sent(sqlite_url, writer):
    worker = WriterClient(writer.socket_path)
    for n in range(20):
        worker.insert([item(keys=[f"k{n}"], scores=[1.0])])
    writer.stop()
    assert len(rows(sqlite_url)) == 20


def _dead(pid):
    """Return True once ``pid`` has exited (gone, or a zombie whose files are closed)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _nice(pid):
    """Return a process's nice value, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])


@pytest.mark.e2e
def test_under_gunicorn_one_low_priority_writer_process_stores_history_and_is_restarted_if_killed(tmp_path):
    with running_server(tmp_path, env={"API_HISTORY_WRITER_NICE": "7"}, workers=2) as server:
        url = f"sqlite:///{tmp_path / 'history.db'}"
        for _ in range(5):
            assert predict(server) == (200, LABELS)
        e2e.wait_until(lambda: len(rows(url)) == 5 * len(BODY), "the first rows stored")
        writers = history_writer_pids(server)
        assert len(writers) == 1 and not writers & worker_pids(server)
        (writer,) = writers
        assert _nice(writer) == 7  # API_HISTORY_WRITER_NICE
        assert all(_nice(pid) == 0 for pid in worker_pids(server))

        os.kill(writer, signal.SIGKILL)
        # Dead, its sockets closed: a frame sent while it was still dying would be lost with it.
        e2e.wait_until(lambda: _dead(writer), "the killed writer gone", timeout=30)
        e2e.wait_until(lambda: history_writer_pids(server) - {writer}, "a new writer", timeout=30)
        # The new writer sets its priority as it starts, a moment after Gunicorn forks it.
        e2e.wait_until(lambda: {_nice(pid) for pid in history_writer_pids(server)} == {7}, "nice 7")
        e2e.wait_until(lambda: server.log().count("history writer serving") == 2, "the new writer serving")
        for _ in range(5):  # each worker's connection is still to the dead writer
            assert predict(server) == (200, LABELS)
        for _ in range(5):
            assert predict(server) == (200, LABELS)
        # Every request's rows, exactly once: those sent on a connection to the dead writer went
        # again to its successor.
        e2e.wait_until(lambda: len(rows(url)) >= 15 * len(BODY), "every row stored", timeout=30)
        stored = rows(url)
        assert len(stored) == 15 * len(BODY)
        assert sorted(row["tweet_id"] for row in stored) == sorted([*BODY] * 15)
        status, _, ready = request(f"{server.url}/readyz", server.context)
        assert (status, ready["history"]["enabled"], ready["history"]["failures"]) == (200, True, 0)


@pytest.mark.e2e
def test_under_gunicorn_the_writers_database_failures_reach_readyz_and_the_metrics(tmp_path):
    admin = create_token(tmp_path / "tokens.json", "root", admin=True)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    env = {"API_HISTORY_URL": f"sqlite:///{blocker / 'history.db'}"}
    with running_server(tmp_path, env=env, workers=2) as server:
        for _ in range(3):
            assert predict(server) == (200, LABELS)

        def degraded():
            status, _, ready = request(f"{server.url}/readyz", server.context)
            return status == 200 and ready["history"]["ok"] is False and ready["history"]["failures"] >= 1

        e2e.wait_until(degraded, "the failure in readyz and the metrics")
        failures = value(_scrape_live(server, admin), "sentiment_history_write_failures_total")
        # Counted by the writer process: the workers' hand-overs to it all succeeded.
        assert failures >= 1
        assert predict(server) == (200, LABELS)
