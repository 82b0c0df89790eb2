"""A predict body's checks to the letter: each refusal's code, message and key, exactly at and past each
limit. Each test kills mutants of api/web/validation.py that the behaviour tests let live
(`make mutate`)."""

import io
import sys
from types import SimpleNamespace

import pytest
from flask import request
from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    InvalidHeader,
    LimitRequestHeaders,
    NoMoreData,
)

from api.errors import InvalidBody, InvalidItem, TooManyItems
from api.web import validation
from api.web.shapes import TweetLimits
from api.web.validation import _json_type, _shorten, check_tweets

URL = "/api/v1/predict"
LIMITS = TweetLimits(max_items=2, max_tweet_chars=3, max_key_chars=4)


def _error(client, headers, body, content_type="application/json"):
    """POST raw ``body``; return the status and the error object of the answer."""
    response = client.post(URL, data=body, headers={**headers, "Content-Type": content_type})
    return response.status_code, response.get_json()["error"]


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/json", "Content-Type must be application/json"),
        ("application/json; charset=ascii", "the JSON body must be UTF-8"),
    ],
)
def test_a_body_not_declared_as_utf8_json_is_a_415_that_says_why(client, auth_header, content_type, message):
    status, error = _error(client, auth_header, b'{"a": "x"}', content_type)
    assert (status, error["code"], error["message"]) == (415, "unsupported_media_type", message)


@pytest.mark.parametrize("charset", ["utf-8", "utf8", "UTF8"])
def test_both_spellings_of_utf8_are_accepted_in_any_case(client, auth_header, charset):
    response = client.post(
        URL,
        data=b'{"a": "x"}',
        headers={**auth_header, "Content-Type": f"application/json; charset={charset}"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "message", "key"),
    [
        (b'{"a": "\xff"}', "body is not valid UTF-8 (byte 7)", None),
        (b'{"a": "x", "a": "y"}', "duplicate key in JSON object", "a"),
        (
            b'{"' + b"k" * 70 + b'": 1, "' + b"k" * 70 + b'": 2}',
            "duplicate key in JSON object",
            "k" * 64 + "...",
        ),
        (b"[" * 100_000, "JSON nested too deeply", None),
        (b"[1]", "body must be a JSON object of id -> tweet text, not an array", None),
        (b"null", "body must be a JSON object of id -> tweet text, not null", None),
        (b'"x"', "body must be a JSON object of id -> tweet text, not a string", None),
        (b"1.5", "body must be a JSON object of id -> tweet text, not a number", None),
        (b"true", "body must be a JSON object of id -> tweet text, not a boolean", None),
    ],
)
def test_a_body_that_is_no_json_object_is_a_400_that_says_why(client, auth_header, body, message, key):
    status, error = _error(client, auth_header, body)
    assert status == 400
    assert error["message"] == message
    assert error.get("key") == key


def test_a_duplicate_key_is_found_wherever_it_is_and_distinct_keys_pass(client, auth_header):
    status, error = _error(client, auth_header, b'{"a": "x", "b": "y", "c": "z", "b": "w"}')
    assert (status, error["key"]) == (400, "b")
    response = client.post(
        URL, data=b'{"a": "x", "b": "y"}', headers={**auth_header, "Content-Type": "application/json"}
    )
    assert response.status_code == 200


def test_exactly_the_limits_pass_and_the_body_is_returned_as_it_came():
    body = {"kkkk": "xxx", "k": ""}
    assert check_tweets(body, LIMITS) is body


@pytest.mark.parametrize(
    ("body", "error", "message", "key"),
    [
        ({}, InvalidBody, "body must contain at least one tweet", None),
        ({"a": "x", "b": "x", "c": "x"}, TooManyItems, "3 tweets in one request; the limit is 2", None),
        ({"": "x"}, InvalidItem, "keys must be 1 to 4 characters", ""),
        ({"kkkkk": "x"}, InvalidItem, "keys must be 1 to 4 characters", "kkkk..."),
        ({"a": 1}, InvalidItem, "value must be a string (tweet text), not a number", "a"),
        ({"a": {}}, InvalidItem, "value must be a string (tweet text), not an object", "a"),
        ({"a": "xxxx"}, InvalidItem, "tweet is 4 characters; the limit is 3", "a"),
        ({"a\x00": "x"}, InvalidItem, "key contains NUL or a lone surrogate", "a\x00"),
        ({"\udfff": "x"}, InvalidItem, "key contains NUL or a lone surrogate", "\udfff"),
        ({"a": "\x00"}, InvalidItem, "tweet contains NUL or a lone surrogate", "a"),
        ({"a": "\ud800"}, InvalidItem, "tweet contains NUL or a lone surrogate", "a"),
        ({"ok": "x", "b": "\udbff"}, InvalidItem, "tweet contains NUL or a lone surrogate", "b"),
    ],
)
def test_each_broken_rule_names_its_limit_and_key(body, error, message, key):
    with pytest.raises(error) as caught:
        check_tweets(body, LIMITS)
    assert (caught.value.message, caught.value.key) == (message, key)


def test_a_key_is_shortened_to_its_limit_only_past_it():
    assert _shorten("k" * 64) == "k" * 64
    assert _shorten("k" * 65) == "k" * 64 + "..."
    assert _shorten("abc", 2) == "ab..."


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (False, "a boolean"),
        (0, "a number"),
        (0.5, "a number"),
        ("", "a string"),
        ([], "an array"),
        ({}, "an object"),
    ],
)
def test_every_json_type_is_named(value, name):
    assert _json_type(value) == name


def test_a_number_past_the_digit_limit_names_the_limit(client, auth_header):
    status, error = _error(client, auth_header, b'{"a": ' + b"1" * 5000 + b"}")
    limit = sys.get_int_max_str_digits()
    assert (status, error["message"]) == (400, f"a number in the body is too long (over {limit} digits)")


def test_an_unforeseen_parser_error_is_answered_without_its_text(client, auth_header, monkeypatch):
    def unforeseen(*args, **kwargs):
        raise ValueError("internal detail of the parser")

    # Only validation's own parser: the token store parses its file with the real one.
    monkeypatch.setattr(validation, "_DECODER", SimpleNamespace(decode=unforeseen))
    status, error = _error(client, auth_header, b'{"a": "x"}')
    assert (status, error["code"], error["message"]) == (400, "invalid_json", "body is not valid JSON")


def test_the_body_is_read_once_and_not_kept_on_the_request(app):
    body = b'{"a": "x"}'
    with app.test_request_context(URL, method="POST", data=body, content_type="application/json"):
        assert validation.parse_json_object(request) == {"a": "x"}
        assert request.get_data() == b""  # not cached: the parsed dict is the only copy kept


def test_a_body_with_content_length_is_never_read_past_it(make_app, auth_header):
    # Exactly at the cap, with the next bytes of the connection behind it in the stream.
    client, cap = make_app(MAX_BODY_BYTES=1024).test_client(), 1024
    valid = b'{"a": "x"}'
    body = valid + b" " * (cap - len(valid))
    overrides = {"wsgi.input": io.BytesIO(body + b"GET / HTTP/1.1\r\n"), "CONTENT_LENGTH": str(cap)}
    headers = {**auth_header, "Content-Type": "application/json"}
    response = client.post(URL, headers=headers, environ_overrides=overrides)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_body_past_the_cap_from_a_server_that_cannot_abandon_it_is_a_413(make_app, auth_header):
    # A plain stream (werkzeug's own server, say) has no abandon(): the answer is the same 413.
    client = make_app(MAX_BODY_BYTES=1024).test_client()
    overrides = {"wsgi.input": io.BytesIO(b'{"a": "' + b"x" * 2048 + b'"}'), "wsgi.input_terminated": True}
    headers = {**auth_header, "Content-Type": "application/json"}
    response = client.post(URL, headers=headers, environ_overrides=overrides)
    assert response.status_code == 413, response.get_data(as_text=True)
    # One byte past the cap tells it: the rest of the body is never read.
    assert overrides["wsgi.input"].tell() == 1024 + 1


class _Unreadable:
    """A wsgi.input whose first read raises what Gunicorn's chunked reader raises."""

    def __init__(self, exc):
        self.exc = exc

    def read(self, size=-1):
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (InvalidChunkSize(b"zz"), "invalid chunk size line"),
        (InvalidChunkExtension("x"), "invalid chunk extension"),
        (ChunkMissingTerminator(b"zz"), "a chunk does not end with CRLF"),
        (LimitRequestHeaders("x"), "trailer section too large"),
        (InvalidHeader("x"), "invalid trailer section"),
        (NoMoreData(b""), "it ended before it was complete"),
    ],
)
def test_each_framing_error_is_named_by_its_kind(client, auth_header, exc, kind):
    overrides = {"wsgi.input": _Unreadable(exc), "wsgi.input_terminated": True}
    headers = {**auth_header, "Content-Type": "application/json"}
    error = client.post(URL, headers=headers, environ_overrides=overrides).get_json()["error"]
    assert (error["code"], error["message"]) == ("malformed_body", f"malformed request body: {kind}")
