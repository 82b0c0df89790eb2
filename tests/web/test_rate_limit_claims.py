"""README "Rate limits and the work budget", the statements no other test pins: the default budgets and
the costs the section works out, the largest valid request paid once a window by the default work
budget, and with memory:// a count per worker that the server warns about at start-up."""

import http.client
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine

from api.settings import Settings
from api.web.budget import work_cost
from tests.e2e import access_records, log_records, running_server, wait_workers_loaded

DEFAULT_WORK_LIMIT = Settings.model_fields["WORK_LIMIT"].default
LARGEST = Settings.model_fields["MAX_ITEMS"].default, Settings.model_fields["MAX_TWEET_CHARS"].default


def test_the_default_budgets_are_the_documented_ones():
    assert Settings.model_fields["RATE_LIMIT"].default == "60/minute"
    assert DEFAULT_WORK_LIMIT == "2000000/minute"


def test_the_costs_the_readme_works_out():
    seventy = ["x" * 70] * 1000
    assert (work_cost(seventy, 1), work_cost(seventy, 2)) == (70_000, 140_000)
    tweets, chars = LARGEST
    assert work_cost(["x" * chars] * tweets, 2) == 1_120_000


def test_the_default_work_budget_pays_for_the_largest_request_once_a_window(make_app, auth_header):
    client = make_app(WORK_LIMIT=DEFAULT_WORK_LIMIT).test_client()
    tweets, chars = LARGEST
    body = {str(i): ("what a day " * chars)[:chars] for i in range(tweets)}

    def largest():
        """The largest valid request, scored by every model."""
        return client.post("/api/v1/predict?model=all", json=body, headers=auth_header)

    with time_machine.travel(1_800_000_000, tick=False) as clock:
        first, second = largest(), largest()
        clock.shift(61)
        next_window = largest()
    assert (first.status_code, first.headers["X-Work-Limit"], first.headers["X-Work-Remaining"]) == (
        200,
        "2000000",
        "880000",
    )
    assert second.status_code == 429
    assert second.get_json()["error"]["code"] == "work_limit_exceeded"
    assert next_window.status_code == 200


LIMIT = 5
MEMORY_WARNING = "API_RATE_LIMIT_STORAGE=memory:// counts per worker"
CONNECTIONS, PER_CONNECTION = 8, 6  # any worker given one connection gets more requests than LIMIT


def _spread(server):
    """Send CONNECTIONS x PER_CONNECTION authenticated GETs over keep-alive connections opened up front
    (the connection balance shares them between the workers); return the statuses."""
    conns = [
        http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=30)
        for _ in range(CONNECTIONS)
    ]
    for conn in conns:
        conn.connect()

    def run(conn):
        """Send PER_CONNECTION requests on ``conn``; return their statuses."""
        statuses = []
        for _ in range(PER_CONNECTION):
            conn.request("GET", "/api/v1/model", headers={"Authorization": f"Bearer {server.token}"})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        return statuses

    try:
        with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
            return [status for statuses in pool.map(run, conns) for status in statuses]
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.e2e
def test_with_memory_storage_each_worker_counts_alone_and_the_server_warns(tmp_path):
    env = {
        "API_RATE_LIMIT_STORAGE": "memory://",
        "API_RATE_LIMIT": f"{LIMIT}/minute",
        "API_HISTORY_URL": "none",
    }
    with running_server(tmp_path, workers=2, env=env) as server:
        wait_workers_loaded(server)
        statuses = _spread(server)
        log = server.log()
    pids = {line["pid"] for line in access_records(log, "/api/v1/model")}
    assert len(pids) == 2, "requests were not spread over both workers"
    # Each worker lets LIMIT through: twice the limit in all, where Redis would have let LIMIT.
    assert statuses.count(200) == 2 * LIMIT, statuses
    assert set(statuses) == {200, 429}
    warnings = [
        line
        for line in log_records(log)
        if line["level"] == "WARNING"
        and line["message"].startswith("API_RATE_LIMIT_STORAGE=memory:// counts")
    ]
    assert len(warnings) == 1, log
    assert "with 2 workers" in warnings[0]["message"]


@pytest.mark.parametrize("request_limit", ["1000/second", "1000/hour"])
def test_a_work_refusals_retry_after_is_when_the_work_window_restarts(make_app, auth_header, request_limit):
    # Whatever the request window: flask-limiter would raise it to an hour's reset (api/web/limits.py).
    client = make_app(WORK_LIMIT="50/minute", RATE_LIMIT=request_limit).test_client()
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        assert client.post("/api/v1/predict", json={"a": "x" * 50}, headers=auth_header).status_code == 200
        clock.shift(30)
        refused = client.post("/api/v1/predict", json={"a": "x"}, headers=auth_header)
    assert refused.get_json()["error"]["code"] == "work_limit_exceeded"
    assert 29 <= int(refused.headers["Retry-After"]) <= 31
