"""Prediction history through the real Gunicorn: 2 gevent workers, TLS, each database driver."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.e2e import BODY, LABELS, access_records, request, running_server, wait_until
from tests.history.helpers import db_url  # noqa: F401 - the shared fixture, used by name

REQUESTS = 40


def wait_for_rows(server, count, timeout=60):
    """Poll the listing until it holds ``count`` rows; return them.

    A 503 (the database did not answer the read in time, on a busy machine) is retried, as its
    message says, until the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = request(
            f"{server.url}/api/v1/predictions?limit=1000", server.context, token=server.token
        )
        assert status in (200, 503), body
        if status == 200 and len(body["predictions"]) >= count:
            return body["predictions"]
        assert time.monotonic() < deadline, f"{count} rows not listed in {timeout} s: {body}"
        time.sleep(0.2)  # polling loop with a deadline


@pytest.mark.e2e
def test_history_rows_appear_after_predictions_through_gunicorn_with_two_workers(tmp_path, db_url):  # noqa: F811
    with running_server(tmp_path, env={"API_HISTORY_URL": db_url}, workers=2) as server:
        url = f"{server.url}/api/v1/predict?detail=true"

        def call(_):
            return request(url, server.context, body=BODY, token=server.token)

        # Concurrent clients on fresh connections, until both workers have taken requests (the
        # kernel decides which worker accepts a connection, so the number of rounds varies).
        sent, pids = 0, set()
        with ThreadPoolExecutor(8) as pool:
            while (sent < REQUESTS or len(pids) < 2) and sent < 12 * REQUESTS:  # rows stay within one listing
                answers = list(pool.map(call, range(8)))
                assert all(status == 200 for status, _, _ in answers)
                sent += len(answers)
                pids = {line["pid"] for line in access_records(server.log(), "/api/v1/predict")}
        assert len(pids) == 2, server.log()  # both workers wrote rows of their own
        status, _, _ = request(
            f"{server.url}/api/v1/predict?store=false", server.context, body=BODY, token=server.token
        )
        assert status == 200

        rows = wait_for_rows(server, sent * len(BODY))
        assert len(rows) == sent * len(BODY)  # and not one more: the store=false request is not there
        for row in rows:
            assert row["label"] == LABELS[row["id"]]
            assert (row["token"], row["model"]) == ("e2e", "freqlr")
            assert 0 <= row["score"] <= 1
            assert row["created"].endswith("Z")
            assert "text" not in row
        status, _, ready = request(server.url + "/readyz", server.context)
        assert (status, ready["history"]["ok"], ready["history"]["failures"]) == (200, True, 0)

    # The rows are in the database itself, written by both workers' writers.
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM predictions")).scalar() == sent * len(BODY)
        assert conn.execute(sa.text("SELECT count(*) FROM predictions WHERE text IS NOT NULL")).scalar() == 0
    engine.dispose()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "url",
    ["mysql+pymysql://root@127.0.0.1:{port}/test", "postgresql+psycopg://postgres@127.0.0.1:{port}/test"],
)
def test_a_database_that_hangs_does_not_hold_predictions(tmp_path, url):
    # A listener that never answers: connections complete the TCP handshake, then no byte ever comes,
    # so each history write waits for the driver's 3 s connect timeout. Predictions must be answered
    # while a write waits: checked by order (every request answered while a connection to the
    # database is still waiting), not by a speed. How long they take is measured by `make bench`.
    with socket.create_server(("127.0.0.1", 0), backlog=64) as black_hole:
        env = {"API_HISTORY_URL": url.format(port=black_hole.getsockname()[1])}
        with running_server(tmp_path, env=env, workers=1) as server:
            predict_url = f"{server.url}/api/v1/predict"
            assert request(predict_url, server.context, body=BODY, token=server.token)[:3:2] == (200, LABELS)
            waiting = wait_until(
                lambda: _waiting_connection(black_hole), "a history write waiting on the database"
            )
            with waiting:
                answers = [
                    request(predict_url, server.context, body=BODY, token=server.token) for _ in range(5)
                ]
                assert [(status, body) for status, _, body in answers] == [(200, LABELS)] * 5
                assert _still_waiting(waiting), "the requests were answered only once the driver gave up"
            status, _, ready = request(server.url + "/readyz", server.context)
        assert status == 200 and "history" in ready
        assert server.process.returncode == 0  # stopped cleanly, writer stuck or not


def _waiting_connection(listener):
    """Accept the connections made to ``listener``; return one its client still holds open, or None."""
    listener.setblocking(False)
    for _ in range(64):  # the listener's backlog: each pass takes one connection off it
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return None
        if _still_waiting(conn):
            return conn
        conn.close()  # an earlier attempt (the start-up migration's), given up already
    return None


def _still_waiting(conn):
    """Return True if the client of ``conn`` has not closed it: it still waits for the database's answer.

    What it sent (PostgreSQL's client speaks first) is read and dropped.
    """
    conn.setblocking(False)
    for _ in range(100):  # a client's greeting is a few bytes: far fewer reads than this
        try:
            if conn.recv(4096) == b"":
                return False
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False
    return True
