"""Prometheus metrics: admin-only /metrics, counts by URL rule and status, tweets by label, 429s, auth
failures, history failures, model versions; per-app registries; exact sums over two live workers."""

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from api import constants as c
from api.ops.tokens import create_token
from tests.e2e import ROOT, access_records, running_server, wait_for_respawn, worker_pids

PREDICT = "/api/v1/predict"


def samples(text):
    """Return ``{(sample name, frozenset of labels): value}`` of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped, name, **labels):
    """Return one sample's value, 0 if the series does not exist (yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


def requests_of(scraped, endpoint, status, method=None):
    """Return the request count of ``endpoint`` with ``status`` (the method follows from the endpoint)."""
    method = method or ("POST" if endpoint == PREDICT else "GET")
    return value(
        scraped, "sentiment_http_requests_total", endpoint=endpoint, method=method, status=str(status)
    )


@pytest.fixture
def admin_header(tokens):
    """The Authorization header of an admin token in the test tokens file."""
    return {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"}


def scrape(client, admin_header):
    """GET /metrics as an admin; return its samples."""
    response = client.get("/metrics", headers=admin_header)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return samples(response.get_data(as_text=True))


def test_metrics_need_an_admin_token(client, auth_header, admin_header):
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer sa_wrong"})
    assert (wrong.status_code, wrong.get_json()["error"]["code"]) == (401, "unauthorized")
    not_admin = client.get("/metrics", headers=auth_header)
    assert not_admin.status_code == 403
    assert not_admin.get_json()["error"] == {
        "status": 403,
        "code": "forbidden",
        "message": "metrics need a token with the admin flag",
    }
    assert client.get("/metrics", headers=admin_header).status_code == 200


def test_requests_are_counted_by_url_rule_and_status_never_by_raw_path(client, auth_header, admin_header):
    for _ in range(3):
        assert client.post(PREDICT, json={"a": "good day"}, headers=auth_header).status_code == 200
    assert (
        client.post(PREDICT, data="{", content_type="application/json", headers=auth_header).status_code
        == 400
    )
    for _ in range(2):
        assert (
            client.post(PREDICT, json={"a": "x"}, headers={"Authorization": "Bearer sa_no"}).status_code
            == 401
        )
    secret_path = f"/api/v1/nope-{secrets.token_hex(8)}"
    assert client.get(secret_path).status_code == 404
    assert client.get(PREDICT, headers=auth_header).status_code == 405
    assert client.open("/healthz", method="BREW").status_code == 405
    text = client.get("/metrics", headers=admin_header).get_data(as_text=True)
    scraped = samples(text)
    assert requests_of(scraped, PREDICT, 200) == 3
    assert requests_of(scraped, PREDICT, 400) == 1
    assert requests_of(scraped, PREDICT, 401) == 2
    # Paths that match no rule share one label value; a method outside the standard set is "other".
    assert requests_of(scraped, "unmatched", 404) == 1
    assert requests_of(scraped, "unmatched", 405) == 1
    assert requests_of(scraped, "unmatched", 405, method="other") == 1
    assert secret_path not in text and "BREW" not in text
    assert value(scraped, "sentiment_auth_failures_total") == 2
    # Every answer is timed under its rule; the scrape counts itself only in the next one.
    assert value(scraped, "sentiment_http_request_duration_seconds_count", endpoint=PREDICT) == 6
    assert value(scraped, "sentiment_http_request_duration_seconds_count", endpoint="unmatched") == 3
    assert requests_of(scrape(client, admin_header), "/metrics", 200) == 1


def test_tweets_are_counted_by_model_and_label_as_answered(client, auth_header, admin_header):
    tweets = {
        "a": "I love this, what a great day :)",
        "b": "worst service ever, so angry",
        "c": "happy happy joy",
        "d": "I hate mondays",
        "e": "sad and tired",
    }
    expected = {}
    for query, body in (("", tweets), ("?model=all", tweets), ("?model=nblr&detail=true", {"z": "meh"})):
        answer = client.post(PREDICT + query, json=body, headers=auth_header).get_json()
        for key in body:
            if query == "?model=all":
                labels = answer[key].items()
            elif query.startswith("?model=nblr"):
                labels = [("nblr", answer[key]["label"])]
            else:
                labels = [("freqlr", answer[key])]
            for model, label in labels:
                expected[model, label] = expected.get((model, label), 0) + 1
    scraped = scrape(client, admin_header)
    counted = {
        (model, label): value(scraped, "sentiment_tweets_scored_total", model=model, label=label)
        for model in ("freqlr", "nblr")
        for label in ("Positive", "Negative")
    }
    assert {key: count for key, count in counted.items() if count} == expected
    assert sum(expected.values()) == len(tweets) * 3 + 1


def test_rate_limited_answers_are_counted(make_app, auth_header, tokens):
    client = make_app(**{c.RATE_LIMIT: "3/minute"}).test_client()
    # An admin token of its own: its scrapes spend their own bucket, not the limited client's.
    admin = {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"}
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [client.get("/api/v1/model", headers=auth_header).status_code for _ in range(5)]
        scraped = scrape(client, admin)
    assert statuses == [200, 200, 200, 429, 429]
    assert value(scraped, "sentiment_rate_limited_total", endpoint="/api/v1/model") == 2
    assert requests_of(scraped, "/api/v1/model", 429) == 2


def test_metrics_share_the_failed_authentication_limit(make_app):
    client = make_app(**{c.AUTH_FAILURE_LIMIT: "2/minute"}).test_client()
    wrong = {"Authorization": "Bearer sa_guess"}
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [client.get("/metrics", headers=wrong).status_code for _ in range(3)]
    # Guessing tokens at /metrics is as limited as anywhere else.
    assert statuses == [401, 401, 429]


def test_models_are_described_with_their_versions(client, auth_header, admin_header):
    served = client.get("/api/v1/models", headers=auth_header).get_json()
    scraped = scrape(client, admin_header)
    described = {
        dict(labels)["model"]: dict(labels)
        for (name, labels), found in scraped.items()
        if name == "sentiment_model_info" and found == 1
    }
    assert described == {
        model["name"]: {
            "model": model["name"],
            "version": model["version"],
            "default": "true" if model["name"] == served["default"] else "false",
        }
        for model in served["models"]
    }


def test_history_write_failures_are_counted(make_app, auth_header, admin_header, tmp_path):
    # A database file under a regular file: the folder cannot be made, so every write fails.
    (tmp_path / "not-a-folder").write_text("")
    app = make_app(**{c.HISTORY_URL: f"sqlite:///{tmp_path / 'not-a-folder' / 'history.db'}"})
    client = app.test_client()
    history = app.extensions[c.EXT_HISTORY]
    assert value(scrape(client, admin_header), "sentiment_history_write_failures_total") == 0
    for _ in range(3):
        assert client.post(PREDICT, json={"a": "hello"}, headers=auth_header).status_code == 200
        history.flush()
    assert history.failures == 3
    assert value(scrape(client, admin_header), "sentiment_history_write_failures_total") == 3


def test_every_app_counts_in_a_registry_of_its_own(make_app, auth_header, admin_header):
    first, second = make_app().test_client(), make_app().test_client()  # no "Duplicated timeseries"
    for _ in range(2):
        first.post(PREDICT, json={"a": "x"}, headers=auth_header)
    second.post(PREDICT, json={"a": "x"}, headers=auth_header)
    assert requests_of(scrape(first, admin_header), PREDICT, 200) == 2
    assert requests_of(scrape(second, admin_header), PREDICT, 200) == 1


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
        time.sleep(1)  # the new worker loads its app
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
