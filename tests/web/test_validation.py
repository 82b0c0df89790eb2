"""Malformed predict requests: each gets its own 4xx, as JSON of the shared shape, naming the key."""

import json

import pytest

from api import constants as c

URL = "/api/v1/predict"
JSON = "application/json"


def _raw(client, headers, body, content_type=JSON, method="POST"):
    return client.open(URL, method=method, data=body, headers={**headers, "Content-Type": content_type})


CASES = [
    # (case id, body bytes, content type, status, code, key)
    ("no content type", b'{"a": "x"}', None, 415, "unsupported_media_type", None),
    ("text/plain", b'{"a": "x"}', "text/plain", 415, "unsupported_media_type", None),
    ("form", b"a=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type", None),
    (
        "latin-1 charset",
        b'{"a": "x"}',
        "application/json; charset=latin-1",
        415,
        "unsupported_media_type",
        None,
    ),
    ("empty body", b"", JSON, 400, "invalid_json", None),
    ("invalid json", b'{"a": ', JSON, 400, "invalid_json", None),
    ("single quotes", b"{'a': 'x'}", JSON, 400, "invalid_json", None),
    ("trailing comma", b'{"a": "x",}', JSON, 400, "invalid_json", None),
    ("invalid utf-8", b'{"a": "\xff\xfe"}', JSON, 400, "invalid_json", None),
    ("utf-16 body", '{"a": "x"}'.encode("utf-16"), JSON, 400, "invalid_json", None),
    ("NaN", b'{"a": NaN}', JSON, 400, "invalid_json", None),
    ("deep nesting", b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}", JSON, 400, "invalid_json", None),
    ("array", b'["x"]', JSON, 400, "invalid_body", None),
    ("string", b'"x"', JSON, 400, "invalid_body", None),
    ("number", b"1", JSON, 400, "invalid_body", None),
    ("null", b"null", JSON, 400, "invalid_body", None),
    ("empty object", b"{}", JSON, 400, "invalid_body", None),
    ("duplicate keys", b'{"a": "x", "a": "y"}', JSON, 400, "invalid_body", "a"),
    ("number value", b'{"a": "x", "b": 1}', JSON, 400, "invalid_item", "b"),
    ("null value", b'{"a": null}', JSON, 400, "invalid_item", "a"),
    ("array value", b'{"a": ["x"]}', JSON, 400, "invalid_item", "a"),
    ("object value", b'{"a": {"b": "x"}}', JSON, 400, "invalid_item", "a"),
    ("bool value", b'{"a": true}', JSON, 400, "invalid_item", "a"),
    ("empty key", b'{"": "x"}', JSON, 400, "invalid_item", ""),
    ("NUL in tweet", b'{"a": "x\\u0000y"}', JSON, 400, "invalid_item", "a"),
    ("lone surrogate in tweet", b'{"a": "x\\ud800y"}', JSON, 400, "invalid_item", "a"),
    ("lone surrogate in key", b'{"\\udc00": "x"}', JSON, 400, "invalid_item", "\udc00"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "key"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_body(client, auth_header, body, content_type, status, code, key):
    headers = dict(auth_header)
    if content_type is None:
        response = client.post(URL, data=body, headers=headers)
    else:
        response = _raw(client, headers, body, content_type)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == JSON
    error = response.get_json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"]
    assert error.get("key") == key
    assert "Traceback" not in response.get_data(as_text=True)


def test_limits_on_items_tweet_length_and_key_length(make_app, auth_header):
    client = make_app(MAX_ITEMS=3, MAX_TWEET_CHARS=10, MAX_KEY_CHARS=5).test_client()
    cases = [
        ({str(i): "x" for i in range(4)}, "too_many_items", None),
        ({"a": "x" * 11}, "invalid_item", "a"),
        ({"abcdef": "x"}, "invalid_item", "abcde..."),
    ]
    for body, code, key in cases:
        error = client.post(URL, json=body, headers=auth_header).get_json()["error"]
        assert (error["code"], error.get("key")) == (code, key)
    ok = client.post(URL, json={str(i): "x" * 10 for i in range(3)}, headers=auth_header)
    assert ok.status_code == 200


def test_oversized_body_gets_json_413(make_app, auth_header):
    client = make_app(MAX_BODY_BYTES=2048).test_client()
    body = json.dumps({"a": "x" * 4000})
    response = _raw(client, auth_header, body)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_wrong_method_gets_json_405_with_allow(client, auth_header, method):
    response = _raw(client, auth_header, b'{"a": "x"}', method=method)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unknown_path_gets_json_404(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_answer_keeps_every_key_in_order(client, auth_header):
    body = {"z": "love it", "a": "hate it", "m": "", "é🙂": "ok :)", "10": "x"}
    response = client.post(URL, json=body, headers=auth_header)
    assert response.status_code == 200
    answer = json.loads(response.get_data(as_text=True))
    assert list(answer) == list(body)
    assert set(answer.values()) <= {"Positive", "Negative"}
    assert answer["z"] == "Positive" and answer["a"] == "Negative"


def test_charset_utf8_is_accepted(client, auth_header):
    response = _raw(client, auth_header, b'{"a": "caf\xc3\xa9"}', "application/json; charset=UTF-8")
    assert response.status_code == 200


def test_unexpected_errors_are_json_500_without_details(make_app, auth_header, monkeypatch):
    app = make_app()

    def broken(*args):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app.extensions[c.EXT_MODEL], "score", broken)
    response = app.test_client().post(URL, json={"a": "x"}, headers=auth_header)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
    assert "secret detail" not in response.get_data(as_text=True)


# Python's own words name its internals (sys.set_int_max_str_digits(), "(char 6)"): none in an answer.
PYTHON_WORDS = ("sys.", "set_int_max_str_digits", "(char ", "Exceeds the limit", "Traceback")


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": ' + b"1" * 4301 + b"}",
        b'{"a": -' + b"9" * 5000 + b"}",
        b'{"a": [' + b"7" * 4301 + b"]}",
        b"1" * 4301,
    ],
    ids=["value", "negative", "in an array", "whole body"],
)
def test_a_number_past_pythons_digit_limit_is_refused_in_our_words(client, auth_header, body):
    response = _raw(client, auth_header, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_json"
    assert "number" in error["message"] and "too long" in error["message"]
    assert not any(word in error["message"] for word in PYTHON_WORDS), error["message"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": ', "Expecting value (line 1, column 7)"),
        (b'{"a": "x",\n}', "Expecting property name enclosed in double quotes (line 2, column 1)"),
        (b'{"a": "x"} {"b": "y"}', "Extra data (line 1, column 12)"),
    ],
)
def test_a_json_syntax_error_gives_its_message_line_and_column(client, auth_header, body, expected):
    error = _raw(client, auth_header, body).get_json()["error"]
    assert error["message"] == f"body is not valid JSON: {expected}"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_in_our_words(client, auth_header, constant):
    error = _raw(client, auth_header, b'{"a": ' + constant.encode() + b"}").get_json()["error"]
    assert error["code"] == "invalid_json"
    assert error["message"] == f"body is not valid JSON: {constant} is not a JSON number"
