"""Prediction history through the real Gunicorn: 2 gevent workers, TLS, each database driver."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.e2e import BODY, LABELS, access_records, request, running_server
from tests.history.helpers import db_url  # noqa: F401 - the shared fixture, used by name

REQUESTS = 40


def wait_for_rows(server, count, timeout=15):
    """Poll the listing until it holds ``count`` rows; return them."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = request(
            f"{server.url}/api/v1/predictions?limit=1000", server.context, token=server.token
        )
        assert status == 200, body
        if len(body["predictions"]) >= count or time.monotonic() > deadline:
            return body["predictions"]
        time.sleep(0.2)


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
def test_a_database_that_hangs_does_not_slow_predictions_under_gevent(tmp_path, url):
    # A listener that never accepts: connections complete the TCP handshake, then no byte ever comes,
    # so each history write waits for the driver's 3 s timeout. Were the driver to block gevent's
    # loop, every request of the worker would wait with it.
    with socket.create_server(("127.0.0.1", 0), backlog=64) as black_hole:
        env = {"API_HISTORY_URL": url.format(port=black_hole.getsockname()[1])}
        with running_server(tmp_path, env=env, workers=1) as server:
            predict_url = f"{server.url}/api/v1/predict"
            slowest = 0.0
            for _ in range(15):
                started = time.monotonic()
                status, _, body = request(predict_url, server.context, body=BODY, token=server.token)
                slowest = max(slowest, time.monotonic() - started)
                assert (status, body) == (200, LABELS)
                time.sleep(0.05)
            status, _, ready = request(server.url + "/readyz", server.context)
        # Still inside the driver's timeout: every request was answered while the writer waited.
        assert (status, ready["history"]["failures"]) == (200, 0)
        assert server.process.returncode == 0  # stopped cleanly, writer stuck or not
        assert slowest < 0.5, server.log()
