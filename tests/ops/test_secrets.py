"""Secrets hygiene over the wire: tokens and tweet texts never reach a log line or a response body,
and every kind of response carries the security headers.

Requests with known tokens (valid, wrong, revoked) and distinctive tweet texts,
valid and invalid, go to real servers logging at debug level; then every log
line and every response is searched. Keys are the caller's ids and may appear
in error bodies, so the texts share nothing with them.
"""

import http.client
import json
import re
import secrets
from contextlib import ExitStack

import pytest

from api.ops.tokens import create_token, revoke_token
from tests.e2e import access_records, log_records, running_server, wait_until

pytestmark = pytest.mark.e2e

DEBUG = {"LOG_LEVEL": "debug"}
MAX_BODY = 4096


def _text(label):
    """A distinctive tweet text: nothing else in a log or a body can contain it by chance."""
    return f"{label} quokka{secrets.token_hex(8)} sunshine"


NAMES = "ok1 ok2 gone query wrong revoked anon number array long dup1 dup2 cut bare utf8 big plain"
TEXTS = {name: _text(name) for name in NAMES.split()}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """The main server (debug log, tokens re-read per request, small bodies) and one limited to 2/minute."""
    main_tmp = tmp_path_factory.mktemp("secrets")
    # A token the server knows at start, to be revoked while it runs.
    gone = create_token(main_tmp / "tokens.json", "gone")
    env = {**DEBUG, "API_TOKEN_RELOAD_SECONDS": "0", "API_MAX_BODY_BYTES": str(MAX_BODY)}
    with ExitStack() as stack:
        main = stack.enter_context(running_server(main_tmp, env=env))
        limited = stack.enter_context(
            running_server(
                tmp_path_factory.mktemp("limited"), env={**DEBUG, "API_RATE_LIMIT": "2/minute"}, workers=1
            )
        )
        yield main, limited, gone


def exchange(server, method, path, body=b"", headers=None):
    """Send one request over a new verified TLS connection; return (status, headers, raw body)."""
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def post(server, body, token=None, content_type="application/json", path="/api/v1/predict"):
    """POST ``body`` (bytes, or an object sent as JSON) to predict; return (status, headers, raw body)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return exchange(server, "POST", path, raw, headers)


def tweet(key):
    """A JSON string member ``"<key>": "<text of key>"`` written by hand (for malformed bodies)."""
    return f'"{key}": "{TEXTS[key]}"'


@pytest.fixture(scope="module")
def responses(servers):
    """Drive every kind of request once; return {name: (status, headers, raw body)}, and the tokens used."""
    main, limited, gone = servers
    valid, wrong = main.token, "sa_" + secrets.token_urlsafe(32)
    t = TEXTS
    out = {
        "ok": post(main, {"k1": t["ok1"], "k2": t["ok2"]}, valid),
        "gone-before-revoke": post(main, {"k3": t["gone"]}, gone),
        "token-in-query": post(main, {"k4": t["query"]}, valid, path=f"/api/v1/predict?access_token={valid}"),
    }
    revoke_token(main.tokens_file, "gone")
    out |= {
        "wrong-token": post(main, {"k5": t["wrong"]}, wrong),
        "revoked-token": post(main, {"k6": t["revoked"]}, gone),
        "no-token": post(main, {"k7": t["anon"]}),
        "number": post(main, {"k8": 5, "k9": t["number"]}, valid),
        "array": post(main, {"k10": [t["array"]]}, valid),
        "too-long": post(main, {"k11": t["long"] + "x" * 1000}, valid),
        "duplicate-key": post(main, f'{{{tweet("dup1")}, "k12": 1, "dup1": "{t["dup2"]}"}}'.encode(), valid),
        "cut-json": post(main, f'{{{tweet("cut")}, "k13": '.encode(), valid),
        "bare-text": post(main, f'{{"k14": {t["bare"]}}}'.encode(), valid),
        "bad-utf8": post(main, f'{{"k15": "{t["utf8"]} '.encode() + b'\xff"}', valid),
        "too-big": post(main, {"k16": t["big"] + "x" * MAX_BODY}, valid),
        "not-json": post(main, t["plain"].encode(), valid, content_type="text/plain"),
        "not-found": exchange(main, "GET", "/api/v1/nope"),
        "wrong-method": exchange(
            main, "GET", "/api/v1/predict", headers={"Authorization": f"Bearer {valid}"}
        ),
    }
    for attempt in range(3):  # the third request of a minute is over 2/minute
        out[f"limited-{attempt}"] = post(limited, {"k17": t["ok1"]}, limited.token)
    # Each access line is written just after its answer: wait until every request has its own.
    for server, sent in ((main, len(out) - 3), (limited, 3)):
        wait_until(lambda server=server, sent=sent: len(_sent_lines(server)) >= sent, "the access lines")
    return out, [valid, wrong, gone, limited.token]


def _sent_lines(server):
    """Return the server's access lines but those of the readiness probe running_server sent."""
    return [line for line in access_records(server.log()) if line["path"] != "/readyz"]


EXPECTED = {
    "ok": 200,
    "gone-before-revoke": 200,
    # An unknown query parameter is refused (400 naming the parameter, never its value);
    # the token in the URL must still appear in no log line and no answer.
    "token-in-query": 400,
    "wrong-token": 401,
    "revoked-token": 401,
    "no-token": 401,
    "number": 400,
    "array": 400,
    "too-long": 400,
    "duplicate-key": 400,
    "cut-json": 400,
    "bare-text": 400,
    "bad-utf8": 400,
    "too-big": 413,
    "not-json": 415,
    "not-found": 404,
    "wrong-method": 405,
    "limited-2": 429,
}


def test_every_request_got_the_expected_status(responses):
    answers, _ = responses
    assert {name: answers[name][0] for name in EXPECTED} == EXPECTED
    labels = json.loads(answers["ok"][2])
    assert list(labels) == ["k1", "k2"] and set(labels.values()) <= {"Positive", "Negative"}
    # Keys may be named in errors: that is how a caller finds the bad item.
    assert json.loads(answers["number"][2])["error"]["key"] == "k8"
    assert json.loads(answers["duplicate-key"][2])["error"]["key"] == "dup1"


def test_no_token_or_tweet_text_in_any_log_line(servers, responses):
    main, limited, _ = servers
    _, tokens = responses
    log = main.log() + limited.log()
    # The search covers real request logging: debug lines and one access line per request.
    assert any(line["level"] == "DEBUG" for line in log_records(log))
    assert len(access_records(log, "/api/v1/predict")) >= 17
    leaks = [
        (secret, line)
        for line in log.splitlines()
        for secret in tokens + list(TEXTS.values())
        if secret in line
    ]
    assert leaks == []


def test_no_token_or_tweet_text_in_any_response(responses):
    answers, tokens = responses
    for name, (_, headers, body) in answers.items():
        seen = body.decode("utf-8", "replace") + str(headers)
        leaked = [secret for secret in tokens + list(TEXTS.values()) if secret in seen]
        assert leaked == [], f"{name} echoes {leaked}"


@pytest.mark.parametrize("status", sorted(set(EXPECTED.values())))
def test_security_headers_on_every_kind_of_response(responses, status):
    answers, _ = responses
    kinds = [name for name, expected in EXPECTED.items() if expected == status]
    for name in kinds:
        headers = answers[name][1]
        assert "max-age=63072000" in headers["Strict-Transport-Security"], name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert "no-store" in headers["Cache-Control"], name
        assert "default-src 'none'" in headers["Content-Security-Policy"], name
        # A server name, but no version an attacker could look up.
        assert headers["Server"] and not re.search(r"\d", headers["Server"]), (name, headers["Server"])
