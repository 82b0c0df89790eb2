"""README "TLS" claim: every answer of the app, whatever its status, carries HSTS, nosniff, no-store, a CSP
that allows nothing (the pages have their own: tests/web/test_pages_claims.py) and a request id.

The answers Gunicorn gives before the app sees a request (a request line or a header too long) carry
them too: a live server.
"""

import http.client
import re

import pytest
import time_machine

from api import constants as c
from api.ops.tokens import create_token
from tests.e2e import running_server

PREDICT = "/api/v1/predict"
NOTHING_ALLOWED = "default-src 'none'; frame-ancestors 'none'"


@pytest.fixture
def answers(make_app, tokens, auth_header, tmp_path):
    """One answer of every status the app gives: {status: response}."""
    blocker = tmp_path / "db"
    blocker.write_text("a file where the history database's folder should be: reads fail")
    app = make_app(RATE_LIMIT="12/minute", MAX_BODY_BYTES=1024, HISTORY_URL=f"sqlite:///{blocker / 'h.db'}")
    client = app.test_client()

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    user = auth_header
    with time_machine.travel(1_800_000_000, tick=False):
        out = {
            200: client.post(PREDICT, json={"a": "x"}, headers=user),
            400: client.post(PREDICT, data="{", content_type="application/json", headers=user),
            401: client.post(PREDICT, json={"a": "x"}),
            403: client.get("/metrics", headers=user),
            404: client.get("/nowhere"),
            405: client.get(PREDICT, headers=user),
            413: client.post(PREDICT, json={"a": "x" * 2000}, headers=user),
            415: client.post(PREDICT, data="x", content_type="text/plain", headers=user),
            503: client.get("/api/v1/predictions", headers=user),
        }
        other = {"Authorization": f"Bearer {create_token(tokens[0], 'bob')}"}
        out[429] = [client.get("/api/v1/model", headers=other) for _ in range(13)][-1]
    app.extensions[c.EXT_MODEL].score = broken
    out[500] = client.post(PREDICT, json={"a": "x"}, headers=user)
    app.extensions[c.EXT_HISTORY].store.dispose()
    return out


def assert_secured(headers, status):
    """The security headers and a request id are in ``headers`` (of an answer with ``status``)."""
    assert headers["Strict-Transport-Security"].startswith("max-age=63072000"), status
    assert headers["X-Content-Type-Options"] == "nosniff", status
    assert headers["Cache-Control"] == "no-store", status
    assert headers["Content-Security-Policy"] == NOTHING_ALLOWED, status
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"]), status


def test_every_status_carries_the_security_headers_and_a_request_id(answers):
    assert {status: answer.status_code for status, answer in answers.items()} == {s: s for s in answers}
    for status, answer in answers.items():
        assert_secured(answer.headers, status)


@pytest.mark.e2e
def test_gunicorns_own_refusals_carry_them_too(tmp_path):
    refusals = {414: ("/" + "a" * 5000, {}), 431: ("/healthz", {"X-Big": "b" * 9000})}
    with running_server(tmp_path, workers=1) as server:
        for status, (path, headers) in refusals.items():
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
            finally:
                conn.close()
            assert response.status == status
            assert_secured(response.headers, status)
