"""A predict body's checks to the letter: each refusal's code, message and key, exactly at and past each
limit. Each test kills mutants of api/web/validation.py that the behaviour tests let live
(`make mutate`)."""

import pytest

from api.errors import InvalidBody, InvalidItem, TooManyItems
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
