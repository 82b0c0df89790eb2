"""Malformed requests over the wire: raw bytes to the real server; each gets its JSON 4xx, the server lives.

http.client sends exactly the bytes and headers given (two Authorization lines,
latin-1 header bytes, invalid UTF-8), which a test client or urllib would tidy up.
"""

import http.client
import json
from dataclasses import dataclass

import pytest

from api.settings import Settings
from tests.e2e import running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's own Gunicorn (2 workers, TLS, high limits): its tests only read, none counts
    connections, workers or log lines, so they share it."""
    with running_server(tmp_path_factory.mktemp("malformed")) as running:
        yield running


URL = "/api/v1/predict"
MAX_BODY_BYTES = Settings.model_fields["MAX_BODY_BYTES"].default
MAX_ITEMS = Settings.model_fields["MAX_ITEMS"].default
MAX_TWEET_CHARS = Settings.model_fields["MAX_TWEET_CHARS"].default
MAX_KEY_CHARS = Settings.model_fields["MAX_KEY_CHARS"].default

TOKEN = "{token}"  # replaced by the live server's token when sent
AUTH = ("Authorization", f"Bearer {TOKEN}")
JSON = ("Content-Type", "application/json")
VALID = b'{"a": "what a lovely day :)"}'


def _body(obj):
    """Encode a body the way a client would."""
    return json.dumps(obj).encode()


@dataclass(frozen=True)
class Case:
    """One request and the answer it must get: status, error code and the key at fault."""

    name: str
    status: int
    code: str | None = None
    key: str | None = None
    body: bytes | None = VALID
    headers: tuple = (AUTH, JSON)
    method: str = "POST"
    path: str = URL


CASES = [
    # Content types: checked after auth, before the body is read.
    Case("no content type", 415, "unsupported_media_type", headers=(AUTH,)),
    Case("empty content type", 415, "unsupported_media_type", headers=(AUTH, ("Content-Type", ""))),
    Case("text/plain", 415, "unsupported_media_type", headers=(AUTH, ("Content-Type", "text/plain"))),
    Case(
        "form",
        415,
        "unsupported_media_type",
        body=b"a=x",
        headers=(AUTH, ("Content-Type", "application/x-www-form-urlencoded")),
    ),
    Case(
        "multipart",
        415,
        "unsupported_media_type",
        body=b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--x--\r\n',
        headers=(AUTH, ("Content-Type", "multipart/form-data; boundary=x")),
    ),
    Case(
        "near miss jsonx",
        415,
        "unsupported_media_type",
        headers=(AUTH, ("Content-Type", "application/jsonx")),
    ),
    Case(
        "charset latin-1",
        415,
        "unsupported_media_type",
        headers=(AUTH, ("Content-Type", "application/json; charset=latin-1")),
    ),
    Case(
        "charset utf-16",
        415,
        "unsupported_media_type",
        body='{"a": "x"}'.encode("utf-16"),
        headers=(AUTH, ("Content-Type", "application/json; charset=utf-16")),
    ),
    # Not JSON, or not UTF-8.
    Case("empty body", 400, "invalid_json", body=b""),
    Case("truncated json", 400, "invalid_json", body=b'{"a": '),
    Case("single quotes", 400, "invalid_json", body=b"{'a': 'x'}"),
    Case("trailing comma", 400, "invalid_json", body=b'{"a": "x",}'),
    Case("two documents", 400, "invalid_json", body=b'{"a": "x"} {"b": "y"}'),
    Case("NaN", 400, "invalid_json", body=b'{"a": NaN}'),
    Case("Infinity", 400, "invalid_json", body=b'{"a": -Infinity}'),
    Case("utf-8 BOM", 400, "invalid_json", body=b'\xef\xbb\xbf{"a": "x"}'),
    Case("invalid utf-8 byte", 400, "invalid_json", body=b'{"a": "\xff\xfe"}'),
    Case("truncated utf-8 sequence", 400, "invalid_json", body=b'{"a": "caf\xc3"}'),
    Case("overlong utf-8", 400, "invalid_json", body=b'{"a": "\xc0\xaf"}'),
    Case("utf-16 body", 400, "invalid_json", body='{"a": "x"}'.encode("utf-16")),
    Case("surrogate encoded as utf-8 bytes", 400, "invalid_json", body=b'{"a": "x\xed\xa0\x80"}'),
    Case("raw NUL byte in a string", 400, "invalid_json", body=b'{"a": "x\x00y"}'),
    Case("deep array nesting", 400, "invalid_json", body=b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    Case("deep object nesting", 400, "invalid_json", body=b'{"a": ' * 100_000 + b'"x"' + b"}" * 100_000),
    # JSON, but not an object of tweets.
    Case("array", 400, "invalid_body", body=b'["x"]'),
    Case("string", 400, "invalid_body", body=b'"x"'),
    Case("number", 400, "invalid_body", body=b"1"),
    Case("null", 400, "invalid_body", body=b"null"),
    Case("boolean", 400, "invalid_body", body=b"true"),
    Case("empty object", 400, "invalid_body", body=b"{}"),
    Case("duplicate keys", 400, "invalid_body", "a", body=b'{"a": "x", "b": "y", "a": "z"}'),
    # One bad entry, named by its key.
    Case("nested object value", 400, "invalid_item", "a", body=b'{"a": {"b": "x"}}'),
    Case("array value", 400, "invalid_item", "a", body=b'{"a": ["x"]}'),
    Case("number value", 400, "invalid_item", "b", body=b'{"a": "x", "b": 1}'),
    Case("null value", 400, "invalid_item", "a", body=b'{"a": null}'),
    Case("boolean value", 400, "invalid_item", "a", body=b'{"a": false}'),
    Case("escaped NUL in tweet", 400, "invalid_item", "a", body=b'{"a": "x\\u0000y"}'),
    Case("escaped NUL in key", 400, "invalid_item", "a\x00b", body=b'{"a\\u0000b": "x"}'),
    Case("lone high surrogate in tweet", 400, "invalid_item", "a", body=b'{"a": "x\\ud83d"}'),
    Case("lone low surrogate in tweet", 400, "invalid_item", "a", body=b'{"a": "\\udc00x"}'),
    Case("lone surrogate in key", 400, "invalid_item", "\udc00", body=b'{"\\udc00": "x"}'),
    Case("empty key", 400, "invalid_item", "", body=b'{"": "x"}'),
    # Limits.
    Case(
        "too many items",
        400,
        "too_many_items",
        body=_body({str(i): "x" for i in range(MAX_ITEMS + 1)}),
    ),
    Case("far too many items", 400, "too_many_items", body=_body({str(i): "" for i in range(100_000)})),
    Case("oversized tweet", 400, "invalid_item", "a", body=_body({"a": "x" * (MAX_TWEET_CHARS + 1)})),
    Case(
        "oversized tweet of emoji",
        400,
        "invalid_item",
        "a",
        body=_body({"a": "\U0001f642" * (MAX_TWEET_CHARS + 1)}),
    ),
    Case(
        "oversized key",
        400,
        "invalid_item",
        "k" * MAX_KEY_CHARS + "...",  # the key is cut short in the error
        body=_body({"k" * (MAX_KEY_CHARS + 1): "x"}),
    ),
    Case(
        "oversized body",
        413,
        "request_entity_too_large",
        body=b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}',
    ),
    # Wrong methods and paths.
    Case("GET", 405, "method_not_allowed", method="GET", body=None, headers=(AUTH,)),
    Case("PUT", 405, "method_not_allowed", method="PUT"),
    Case("PATCH", 405, "method_not_allowed", method="PATCH"),
    Case("DELETE", 405, "method_not_allowed", method="DELETE"),
    Case("trailing slash", 404, "not_found", path=URL + "/"),
    Case("unknown path", 404, "not_found", path="/api/v1/nothing"),
    # Authorization: checked before anything about the body.
    Case("no authorization", 401, "unauthorized", headers=(JSON,)),
    Case("empty authorization", 401, "unauthorized", headers=(("Authorization", ""), JSON)),
    Case("scheme alone", 401, "unauthorized", headers=(("Authorization", "Bearer"), JSON)),
    Case("scheme and space", 401, "unauthorized", headers=(("Authorization", "Bearer "), JSON)),
    Case("basic", 401, "unauthorized", headers=(("Authorization", "Basic YTpi"), JSON)),
    Case("token scheme", 401, "unauthorized", headers=(("Authorization", f"Token {TOKEN}"), JSON)),
    Case("token without scheme", 401, "unauthorized", headers=(("Authorization", TOKEN), JSON)),
    Case("wrong token", 401, "unauthorized", headers=(("Authorization", "Bearer sa_wrong"), JSON)),
    Case("token with a suffix", 401, "unauthorized", headers=(("Authorization", f"Bearer {TOKEN}x"), JSON)),
    # Authorization is a singleton field: two of them are ambiguous, even when both are valid.
    Case("doubled authorization", 401, "unauthorized", headers=(AUTH, AUTH, JSON)),
    Case(
        "doubled authorization, one wrong",
        401,
        "unauthorized",
        headers=(("Authorization", "Bearer sa_wrong"), AUTH, JSON),
    ),
    Case(
        "non-ascii header bytes",
        401,
        "unauthorized",
        headers=(("Authorization", "Bearer caf\xe9".encode("latin-1")), JSON),
    ),
    Case(
        "token in the query string", 401, "unauthorized", path=f"{URL}?access_token={TOKEN}", headers=(JSON,)
    ),
    Case(
        "token in the query, bad body",
        401,
        "unauthorized",
        body=b"[",
        headers=(JSON,),
        path=f"{URL}?token={TOKEN}",
    ),
    # Positive controls: the edges that must still be accepted.
    Case("lower-case scheme (RFC 7235)", 200, headers=(("Authorization", f"bearer {TOKEN}"), JSON)),
    Case("charset utf-8", 200, headers=(AUTH, ("Content-Type", 'application/json; charset="UTF-8"'))),
    Case("emoji tweet at the limit", 200, body=_body({"a": "\U0001f642" * MAX_TWEET_CHARS})),
    Case("key at the limit", 200, body=_body({"k" * MAX_KEY_CHARS: "x"})),
    Case("items at the limit", 200, body=_body({str(i): "fine" for i in range(MAX_ITEMS)})),
]


def _send(server, method, path, headers=(), body=None):
    """Send one request exactly as given, on a new connection; return (status, headers, body bytes)."""
    connection = http.client.HTTPSConnection("localhost", server.port, context=server.context, timeout=60)
    try:
        connection.putrequest(method, path.replace(TOKEN, server.token), skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(
                name, value.replace(TOKEN, server.token) if isinstance(value, str) else value
            )
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _allowed(headers):
    """Return the methods of the Allow header as a set: werkzeug lists them in no fixed order."""
    return {method.strip() for method in headers["Allow"].split(",")}


def _assert_alive(server):
    """The server still answers its liveness probe."""
    status, _, body = _send(server, "GET", "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_request_gets_its_json_answer(server, case):
    status, headers, body = _send(server, case.method, case.path, case.headers, case.body)
    assert status == case.status, body[:500]
    assert headers.get_content_type() == "application/json"
    answer = json.loads(body)
    if status == 200:
        assert list(answer) == list(json.loads(case.body))
        assert set(answer.values()) <= {"Positive", "Negative"}
    else:
        error = answer["error"]
        assert set(error) <= {"status", "code", "message", "key"}
        assert (error["status"], error["code"]) == (case.status, case.code)
        assert error["message"]
        assert error.get("key") == case.key
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer")
    if status == 405:
        assert _allowed(headers) == {"POST", "OPTIONS"}
    _assert_alive(server)


def test_head_on_predict_is_405_with_allow_and_no_body(server):
    # Flask routes HEAD to GET views only; predict has none, so HEAD is a wrong method like GET.
    status, headers, body = _send(server, "HEAD", URL, [AUTH])
    assert status == 405
    assert _allowed(headers) == {"POST", "OPTIONS"}
    assert headers.get_content_type() == "application/json"
    assert body == b""  # a HEAD answer never has a body
    _assert_alive(server)


def test_options_on_predict_lists_the_methods_without_auth(server):
    # Flask answers OPTIONS itself, before auth: it reveals only what the OpenAPI document says.
    status, headers, body = _send(server, "OPTIONS", URL)
    assert status == 200
    assert _allowed(headers) == {"POST", "OPTIONS"}
    assert body == b""
    _assert_alive(server)


def test_the_table_is_exhaustive_enough():
    assert len(CASES) >= 40
    methods = {case.method for case in CASES if case.status == 405}
    assert methods == {"GET", "PUT", "PATCH", "DELETE"}
