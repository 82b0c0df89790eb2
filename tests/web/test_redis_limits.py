"""Rate limits shared through a real Redis: exact across workers, brute-force limits, surviving Redis loss.

Each test starts its own redis-server on a free loopback port, so it can stop
and restart it without touching the machine's shared instance.
"""

import http.client
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import pytest
import redis

from api.ops.tokens import create_token
from tests.e2e import access_records, free_port, request, running_server, wait_workers_loaded

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


# redis-server cannot report a port of its choosing (--port 0 turns TCP off): a port is chosen first,
# and a start that finds it taken is retried (a new port, or the same one once it is free again).
REDIS_ATTEMPTS = 5


@contextmanager
def redis_server(port=None):
    """Run a throwaway redis-server on loopback (on ``port``, if given); yield its URL and a client."""
    for attempt in range(REDIS_ATTEMPTS):
        chosen = port or free_port()
        process, client = _start_redis(chosen)
        if client is not None:
            break
        if port and attempt < REDIS_ATTEMPTS - 1:
            time.sleep(1)  # polling loop with a deadline: wait for the given port to be free again
    else:
        raise AssertionError(f"redis-server found its port taken {REDIS_ATTEMPTS} times")
    try:
        yield f"redis://127.0.0.1:{chosen}", client
    finally:
        process.kill()
        process.wait()


def _start_redis(port):
    """Start redis-server on ``port``; return (process, client), or (process, None) if the port was taken."""
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:  # it exits at once when the port is taken
            return process, None
        try:
            # The answer must be this process's: another redis-server may hold the port.
            if client.info("server")["process_id"] == process.pid:
                return process, client
        except redis.ConnectionError:
            pass
        time.sleep(0.05)  # polling loop with a deadline
    process.kill()
    process.wait()
    raise AssertionError(f"redis-server did not start on port {port} in 10 s")


def _predict(server, token, body=None):
    """POST one tweet over a new connection; return the status (connection errors count as None)."""
    try:
        return request(server.url + "/api/v1/predict", server.context, body=body or {"a": "hi"}, token=token)[
            0
        ]
    except (urllib.error.URLError, ConnectionError):
        return None


def _pids(log):
    """Return the worker pids the access log says served requests."""
    return {line["pid"] for line in access_records(log)}


def test_limit_is_exact_across_workers(tmp_path):
    limit = 20
    with (
        redis_server() as (url, _),
        running_server(
            tmp_path, workers=2, env={"API_RATE_LIMIT_STORAGE": url, "API_RATE_LIMIT": f"{limit}/minute"}
        ) as server,
    ):
        wait_workers_loaded(server)
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: _predict(server, server.token), range(3 * limit)))
        log = server.log()
    assert statuses.count(200) == limit
    assert statuses.count(429) == 2 * limit
    assert len(_pids(log)) >= 2, "requests were not spread over both workers"


def test_failed_authentication_is_limited_across_workers(tmp_path):
    with (
        redis_server() as (url, _),
        running_server(
            tmp_path, workers=2, env={"API_RATE_LIMIT_STORAGE": url, "API_AUTH_FAILURE_LIMIT": "5/minute"}
        ) as server,
    ):
        statuses = [_predict(server, "sa_guess") for _ in range(12)]
        valid = _predict(server, server.token)
    assert statuses == [401] * 5 + [429] * 7
    assert valid == 200


def test_redis_loss_falls_back_per_worker_and_recovers(tmp_path):
    with ExitStack() as stack:
        # The server outlives this first Redis; the second takes the same port.
        with redis_server() as (url, client):
            env = {"API_RATE_LIMIT_STORAGE": url, "API_RATE_LIMIT": "100000/minute"}
            server = stack.enter_context(running_server(tmp_path, workers=1, env=env))
            assert _predict(server, server.token) == 200
            assert client.dbsize() > 0, "limits were not counted in Redis"
        port = int(url.rsplit(":", 1)[1])
        # Redis is gone: every request is still served, none fails.
        during = [_predict(server, server.token) for _ in range(20)]
        ready = request(server.url + "/readyz", server.context)[2]
        assert during == [200] * 20
        assert ready["rate_limit_storage"]["shared"] is False
        assert ready["rate_limit_storage"]["fallbacks"] >= 1
        assert "falling back to in-memory storage" in server.log()
        with redis_server(port) as (_, client):
            deadline = time.monotonic() + 45
            while client.dbsize() == 0:
                assert time.monotonic() < deadline, "never returned to the shared storage"
                assert _predict(server, server.token) == 200
                time.sleep(0.5)  # polling loop with a deadline
            assert request(server.url + "/readyz", server.context)[2]["rate_limit_storage"]["shared"] is True


def _spread_calls(server, token, calls, connections=8):
    """Send ``calls`` (method, path, body) over ``connections`` keep-alive connections opened up front,
    one thread each; return the statuses in call order.

    Held open together, the connections are shared out between the workers by the connection
    balance (api/server/balance.py), so the calls reach both; a new connection per call could all
    land on whichever worker woke first. Bodies are not parsed: /metrics answers in text.
    """
    conns = [
        http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=30)
        for _ in range(connections)
    ]
    for conn in conns:
        conn.connect()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses = [None] * len(calls)

    def run(index):
        conn = conns[index]
        for i in range(index, len(calls), connections):
            method, path, body = calls[i]
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = conn.getresponse()
            response.read()
            statuses[i] = response.status

    try:
        with ThreadPoolExecutor(max_workers=connections) as pool:
            list(pool.map(run, range(connections)))
    finally:
        for conn in conns:
            conn.close()
    return statuses


# Every authenticated endpoint: one token's requests to all of them share one budget.
ENDPOINTS = [
    ("POST", "/api/v1/predict", {"a": "hi"}),
    ("GET", "/api/v1/model", None),
    ("GET", "/api/v1/models", None),
    ("GET", "/api/v1/predictions", None),
    ("GET", "/metrics", None),
]


def test_one_budget_per_token_across_endpoints_and_workers(tmp_path):
    limit = 12
    with redis_server() as (url, _):
        env = {"API_RATE_LIMIT_STORAGE": url, "API_RATE_LIMIT": f"{limit}/minute"}
        with running_server(tmp_path, workers=2, env=env) as server:
            admin = create_token(server.tokens_file, "scraper", admin=True)  # /metrics needs an admin token
            wait_workers_loaded(server)
            calls = [ENDPOINTS[i % len(ENDPOINTS)] for i in range(3 * limit)]
            statuses = _spread_calls(server, admin, calls)
            log = server.log()
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == 2 * limit, statuses
    assert len(_pids(log)) >= 2, "requests were not spread over both workers"


def test_work_budget_is_exact_across_workers(tmp_path):
    cost, budget = 50, 1000  # 20 requests' worth
    env = {"API_WORK_LIMIT": f"{budget}/minute"}
    with redis_server() as (url, client):
        env["API_RATE_LIMIT_STORAGE"] = url
        with running_server(tmp_path, workers=2, env=env) as server:
            calls = [("POST", "/api/v1/predict", {"a": "x" * cost})] * 60
            wait_workers_loaded(server)
            statuses = _spread_calls(server, server.token, calls)
            log = server.log()
            work_keys = [key for key in client.keys("*") if b"work" in key]
    assert statuses.count(200) == budget // cost, statuses
    assert statuses.count(429) == 60 - budget // cost, statuses
    assert work_keys, "the work budget was not counted in Redis"
    assert len(_pids(log)) >= 2, "requests were not spread over both workers"
