"""Prometheus metrics across processes: the master's private metrics directory for its workers, and
exact sums over two live workers, one of them killed and replaced."""

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.ops.tokens import create_token
from tests.e2e import ROOT, access_records, running_server, wait_for_respawn, wait_workers_loaded, worker_pids
from tests.web.metrics_helpers import PREDICT, requests_of, samples, value


def test_master_prepares_a_private_empty_directory_for_the_workers(tmp_path):
    # In a process of its own: it sets the environment and prometheus_client's storage, as the master does.
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old run")
    (given / "keep.txt").write_text("not ours")
    script = """
import json, os, stat, sys
from api.server import multiproc
from prometheus_client import values
# Imported before the variable is set, as gunicorn.conf.py's imports do in the master.
before = values.ValueClass._multiprocess
os.environ[multiproc.MULTIPROC_ENV] = sys.argv[1]
given = multiproc.prepare_multiprocess_dir()
after = values.ValueClass._multiprocess
del os.environ[multiproc.MULTIPROC_ENV]
made, created = multiproc.prepare_multiprocess_dir()
mode = stat.S_IMODE(os.stat(made).st_mode)
multiproc.remove_multiprocess_dir(made)
print(json.dumps([given, before, after, made, created, mode, os.path.exists(made)]))
"""
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    command = [sys.executable, "-c", script, str(given)]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    (directory, created), before, after, made, made_created, mode, still_there = json.loads(out.stdout)
    assert (directory, created) == (str(given), False)
    assert sorted(path.name for path in given.iterdir()) == ["keep.txt"]  # only the metrics files go
    # Workers forked after this write their values to files, although the library was loaded before.
    assert (before, after) == (False, True)
    assert made_created is True and made != str(given)
    assert mode == 0o700
    assert still_there is False


def _post(port, context, body, token):
    """POST ``body`` to predict over a new connection; return (status, parsed answer)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("POST", PREDICT, json.dumps(body), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _get(server, path, token=None):
    """GET ``path``; return (status, headers, body text)."""
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        conn.close()


TWEETS = [
    "I love this, what a great day :)",
    "worst service ever, so angry",
    "so happy for you",
    "this is terrible and I am sad",
    "what a lovely morning",
    "never again, awful",
    "ok I guess",
]


def _drive(server, rounds, offset=0):
    """Send predictions of 1 to 7 tweets over 8 concurrent connections; return (requests, {label: n})."""
    bodies = [
        {f"t{i}": TWEETS[(offset + n + i) % len(TWEETS)] for i in range(1 + (offset + n) % len(TWEETS))}
        for n in range(rounds)
    ]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda body: _post(server.port, server.context, body, server.token), bodies))
    assert all(status == 200 for status, _ in answers), answers
    labels = {}
    for _, answer in answers:
        for label in answer.values():
            labels[label] = labels.get(label, 0) + 1
    return len(bodies), labels


def _scrape_live(server, admin):
    """Scrape the live server as an admin; return its samples."""
    status, headers, text = _get(server, "/metrics", admin)
    assert status == 200, text
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(text)


@pytest.mark.e2e
def test_live_metrics_count_every_request_of_both_workers_even_after_one_is_killed(tmp_path):
    admin = create_token(tmp_path / "tokens.json", "root", admin=True)
    with running_server(tmp_path, env={"API_HISTORY_URL": "none"}, workers=2) as server:
        sent, labels = 0, {}
        # Rounds until both workers have answered some (the kernel picks the worker of a connection).
        while sent < 40 or len({line["pid"] for line in access_records(server.log(), PREDICT)}) < 2:
            assert sent < 400, server.log()
            count, more = _drive(server, 20, offset=sent)
            sent += count
            labels = {label: labels.get(label, 0) + more.get(label, 0) for label in {*labels, *more}}
        bad = 5
        for _ in range(bad):
            assert _post(server.port, server.context, {"a": "x"}, "sa_" + secrets.token_urlsafe(32))[0] == 401

        scraped = _scrape_live(server, admin)
        print(f"{sent} predictions over 2 workers, {bad} refused tokens; labels {labels}")
        assert requests_of(scraped, PREDICT, 200) == sent
        assert requests_of(scraped, PREDICT, 401) == bad
        assert value(scraped, "sentiment_auth_failures_total") == bad
        assert value(scraped, "sentiment_http_request_duration_seconds_count", endpoint=PREDICT) == sent + bad
        for label, count in labels.items():
            assert value(scraped, "sentiment_tweets_scored_total", model="freqlr", label=label) == count
        described = {dict(labels)["model"] for name, labels in scraped if name == "sentiment_model_info"}
        assert described == {"freqlr", "nblr"}

        # Refused scrapes, in the API's JSON error shape.
        status, _, body = _get(server, "/metrics")
        assert (status, json.loads(body)["error"]["code"]) == (401, "unauthorized")
        status, _, body = _get(server, "/metrics", server.token)
        assert (status, json.loads(body)["error"]["code"]) == (403, "forbidden")

        # A worker killed and replaced: what it counted stays counted.
        victim = sorted(worker_pids(server))[0]
        os.kill(victim, signal.SIGKILL)
        wait_for_respawn(server, victim, 2)
        wait_workers_loaded(server, 3)  # the new worker has loaded its models too (two did before)
        more_sent, more_labels = _drive(server, 20, offset=sent)
        scraped = _scrape_live(server, admin)
        assert requests_of(scraped, PREDICT, 200) == sent + more_sent
        assert value(scraped, "sentiment_auth_failures_total") == bad + 1  # the anonymous scrape
        for label in {*labels, *more_labels}:
            total = labels.get(label, 0) + more_labels.get(label, 0)
            assert value(scraped, "sentiment_tweets_scored_total", model="freqlr", label=label) == total
        # The dead worker's live gauge went with it; the models are still described once each.
        info = [found for (name, _), found in scraped.items() if name == "sentiment_model_info"]
        assert info == [1.0, 1.0]
