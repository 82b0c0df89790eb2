"""The README's Metrics claims not checked elsewhere: every standard method kept, the buckets, tweets of
``?store=false`` counted, every kind of 429 and 401, failed hand-overs to the writer, /metrics within the
request limit, and an operator's metrics folder created if missing."""

import json
import os
import subprocess
import sys

import pytest
import time_machine

from api import constants as c
from api.history import client as history_client
from api.ops.tokens import create_token, revoke_token
from tests.e2e import ROOT
from tests.web.metrics_helpers import PREDICT, samples, value

NOW = 1_800_000_000
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture
def admin_header(tokens):
    """The Authorization header of an admin token in the test tokens file."""
    return {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"}


def scrape(client, admin_header):
    """GET /metrics as an admin; return its samples."""
    response = client.get("/metrics", headers=admin_header)
    assert response.status_code == 200, response.get_data(as_text=True)
    return samples(response.get_data(as_text=True))


def test_every_standard_method_is_counted_under_its_own_name(client, admin_header):
    for method in METHODS:
        client.open("/healthz", method=method)
    scraped = scrape(client, admin_header)
    counted = {method: 0.0 for method in METHODS}
    for (name, labels), found in scraped.items():
        if name == "sentiment_http_requests_total":
            method = dict(labels)["method"]
            counted[method] = counted.get(method, 0.0) + found
    assert counted == dict.fromkeys(METHODS, 1.0)


def test_request_durations_are_bucketed_from_1_ms_to_30_s(client, admin_header):
    assert client.get("/healthz").status_code == 200
    bounds = sorted(
        float(dict(labels)["le"])
        for (name, labels), _ in scrape(client, admin_header).items()
        if name == "sentiment_http_request_duration_seconds_bucket" and dict(labels)["endpoint"] == "/healthz"
    )
    assert (bounds[0], bounds[-2], bounds[-1]) == (0.001, 30.0, float("inf"))


def test_tweets_kept_out_of_the_history_are_counted_too(make_app, auth_header, admin_header, tmp_path):
    app = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}")
    client = app.test_client()
    body = {"a": "I love this, what a great day :)", "b": "worst service ever, so angry"}
    assert client.post(PREDICT + "?store=false", json=body, headers=auth_header).status_code == 200
    scraped = scrape(client, admin_header)
    app.extensions[c.EXT_HISTORY].store.dispose()
    counted = [
        value(scraped, "sentiment_tweets_scored_total", model="freqlr", label=label)
        for label in ("Positive", "Negative")
    ]
    assert counted == [1, 1]


def test_the_work_budget_and_the_in_flight_cap_count_as_rate_limited(make_app, auth_header, admin_header):
    app = make_app(WORK_LIMIT="10/minute", MAX_IN_FLIGHT=1)
    client = app.test_client()
    with time_machine.travel(NOW, tick=False):
        assert client.post(PREDICT, json={"a": "x" * 10}, headers=auth_header).status_code == 200
        over_budget = client.post(PREDICT, json={"a": "x" * 10}, headers=auth_header)
        with app.extensions[c.EXT_CPU_TURNS].admitted("alice"):  # alice's one request in flight
            over_cap = client.post(PREDICT, json={"a": "x"}, headers=auth_header)
        scraped = scrape(client, admin_header)
    codes = [answer.get_json()["error"]["code"] for answer in (over_budget, over_cap)]
    assert codes == ["work_limit_exceeded", "too_many_in_flight"]
    assert value(scraped, "sentiment_rate_limited_total", endpoint=PREDICT) == 2


def test_missing_malformed_wrong_and_revoked_tokens_count_as_auth_failures(client, tokens, admin_header):
    revoked = create_token(tokens[0], "gone")
    revoke_token(tokens[0], "gone")
    for headers in (
        {},
        {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="},
        {"Authorization": "Bearer sa_wrong"},
        {"Authorization": f"Bearer {revoked}"},
    ):
        assert client.post(PREDICT, json={"a": "x"}, headers=headers).status_code == 401, headers
    assert value(scrape(client, admin_header), "sentiment_auth_failures_total") == 4


def test_batches_the_writer_could_not_take_count_as_history_write_failures(
    make_app, auth_header, admin_header, tmp_path, monkeypatch
):
    monkeypatch.setattr(history_client, "CONNECT_WAIT", 0.2)
    monkeypatch.setenv(c.HISTORY_WRITER_SOCKET, str(tmp_path / "no-writer.sock"))  # as Gunicorn's master does
    app = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}")
    client = app.test_client()
    history = app.extensions[c.EXT_HISTORY]
    assert isinstance(history.queue.sink, history_client.WriterClient)
    assert client.post(PREDICT, json={"a": "x"}, headers=auth_header).status_code == 200
    history.flush()
    failures = client.get("/readyz").json["history"]["failures"]
    assert value(scrape(client, admin_header), "sentiment_history_write_failures_total") == failures == 1
    history.store.dispose()


def test_metrics_spend_the_scrapers_request_limit(make_app, admin_header):
    client = make_app(RATE_LIMIT="2/minute").test_client()
    with time_machine.travel(NOW, tick=False):
        statuses = [client.get("/metrics", headers=admin_header).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_an_operators_metrics_folder_is_created_if_missing(tmp_path):
    # In a process of its own: it sets the environment and prometheus_client's storage, as the master does.
    given = tmp_path / "not" / "there"
    script = """
import json, os, sys
from api.server import multiproc
os.environ[multiproc.MULTIPROC_ENV] = sys.argv[1]
print(json.dumps(multiproc.prepare_multiprocess_dir()))
"""
    env = {key: found for key, found in os.environ.items() if key != c.MULTIPROC_ENV}
    command = [sys.executable, "-c", script, str(given)]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [str(given), False]  # the operator's: never removed at exit
    assert given.is_dir()
