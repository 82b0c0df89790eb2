"""Prometheus metrics, in one app: admin-only /metrics, counts by URL rule and status, tweets by label,
429s, auth failures, history failures, model versions; per-app registries.

The master's metrics directory and the exact sums over live workers: tests/web/test_metrics_live.py.
"""

import secrets

import pytest
import time_machine

from api import constants as c
from api.ops.tokens import create_token
from tests.web.metrics_helpers import PREDICT, requests_of, samples, value


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
    client = make_app(RATE_LIMIT="3/minute").test_client()
    # An admin token of its own: its scrapes spend their own bucket, not the limited client's.
    admin = {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"}
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [client.get("/api/v1/model", headers=auth_header).status_code for _ in range(5)]
        scraped = scrape(client, admin)
    assert statuses == [200, 200, 200, 429, 429]
    assert value(scraped, "sentiment_rate_limited_total", endpoint="/api/v1/model") == 2
    assert requests_of(scraped, "/api/v1/model", 429) == 2


def test_metrics_share_the_failed_authentication_limit(make_app):
    client = make_app(AUTH_FAILURE_LIMIT="2/minute").test_client()
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
    app = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'not-a-folder' / 'history.db'}")
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
