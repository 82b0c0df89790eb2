"""Prediction history through the real Gunicorn: 2 gevent workers, TLS, each database driver."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.e2e import BODY, LABELS, request, running_server
from tests.test_history import fresh_database

REQUESTS = 40


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def live_db_url(request, tmp_path):
    """A history database for a live server: a SQLite file, or a fresh MariaDB or PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    with fresh_database(request.param) as url:
        yield url


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
def test_history_rows_appear_after_predictions_through_gunicorn_with_two_workers(tmp_path, live_db_url):
    with running_server(tmp_path, env={"API_HISTORY_URL": live_db_url}, workers=2) as server:
        url = f"{server.url}/api/v1/predict?detail=true"

        def call(_):
            return request(url, server.context, body=BODY, token=server.token)

        # Concurrent clients on fresh connections, so both workers take requests.
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(call, range(REQUESTS)))
        assert all(status == 200 for status, _, _ in answers)
        status, _, _ = request(
            f"{server.url}/api/v1/predict?store=false", server.context, body=BODY, token=server.token
        )
        assert status == 200

        rows = wait_for_rows(server, REQUESTS * len(BODY))
        assert len(rows) == REQUESTS * len(BODY)  # and not one more: the store=false request is not there
        for row in rows:
            assert row["label"] == LABELS[row["id"]]
            assert (row["token"], row["model"]) == ("e2e", "freqlr")
            assert 0 <= row["score"] <= 1
            assert row["created"].endswith("Z")
            assert "text" not in row
        status, _, ready = request(server.url + "/readyz", server.context)
        assert (status, ready["history"]["ok"], ready["history"]["failures"]) == (200, True, 0)

        pids = set(re.findall(r'pid=<?(\d+)>? "POST /api/v1/predict"', server.log()))
        assert len(pids) == 2, server.log()  # both workers wrote rows of their own

    # The rows are in the database itself, written by both workers' writers.
    engine = sa.create_engine(live_db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM predictions")).scalar() == REQUESTS * len(BODY)
        assert conn.execute(sa.text("SELECT count(*) FROM predictions WHERE text IS NOT NULL")).scalar() == 0
    engine.dispose()
