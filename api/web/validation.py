"""Checking a predict request body: JSON object of id -> tweet text, within limits."""

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Request
from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    LimitRequestHeaders,
    NoMoreData,
    ParseException,
)
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from api.errors import (
    InvalidBody,
    InvalidItem,
    InvalidJSON,
    MalformedBody,
    TooManyItems,
    UnsupportedMediaType,
)
from api.web.shapes import TweetLimits

# NUL and lone UTF-16 surrogates (which JSON's \\u escapes can smuggle in) are
# not text: refuse them rather than pass them to the model or echo them back. The document states
# the NUL half as a pattern (api/web/shapes.py NO_NUL): JSON Schema cannot speak of surrogates.
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class _DuplicateKey(ValueError):
    """A JSON object repeats a key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a dict from JSON pairs, refusing repeated keys (the last would silently win)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


class _Refused(ValueError):
    """A body the JSON parser would take that this API refuses; its message is the answer's, in our words."""


def _refuse_constant(name: str) -> float:
    """Refuse NaN and Infinity, which are not JSON."""
    raise _Refused(f"body is not valid JSON: {name} is not a JSON number")


def _parse_int(digits: str) -> int:
    """Parse a JSON integer; one past Python's digit limit is refused in our words, not Python's.

    int() would say "use sys.set_int_max_str_digits() to increase the limit": a client
    has no business learning how the server is built.
    """
    try:
        return int(digits)
    except ValueError:  # digits are all JSON let through: only the length limit is left to fail
        limit = sys.get_int_max_str_digits()
        raise _Refused(f"a number in the body is too long (over {limit} digits)") from None


# The body's parser, made once (json.loads with these arguments makes a new decoder on every call).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_object, parse_constant=_refuse_constant, parse_int=_parse_int
)


def parse_json_object(request: Request) -> dict[str, Any]:
    """Return the request body as a dict, or raise the APIError that says what is wrong."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the JSON body must be UTF-8")
    body = read_body(request)
    try:
        text = body.decode("utf-8")
        data = _DECODER.decode(text)
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8 (byte {exc.start})") from exc
    except _DuplicateKey as exc:
        raise InvalidBody("duplicate key in JSON object", key=_shorten(exc.key)) from exc
    except RecursionError as exc:
        raise InvalidJSON("JSON nested too deeply") from exc
    except _Refused as exc:
        raise InvalidJSON(str(exc)) from exc
    except json.JSONDecodeError as exc:
        # Its bare message and position: str(exc) adds Python's "(char N)".
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidJSON(f"body is not valid JSON: {exc.msg} ({where})") from exc
    except ValueError as exc:  # none known; never echo an unknown message
        raise InvalidJSON("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidBody(f"body must be a JSON object of id -> tweet text, not {_json_type(data)}")
    return data


# What Gunicorn's chunked reader raises while the app reads the body (wsgi.input): ParseException's
# subclasses for a broken chunk or trailer, NoMoreData for a body cut short. Their messages quote the
# body's bytes, so only the kind is told, never the text.
_FRAMING_ERRORS = {
    InvalidChunkSize: "invalid chunk size line",
    InvalidChunkExtension: "invalid chunk extension",
    ChunkMissingTerminator: "a chunk does not end with CRLF",
    LimitRequestHeaders: "trailer section too large",
    ParseException: "invalid trailer section",
    NoMoreData: "it ended before it was complete",
    ClientDisconnected: "it ended before it was complete",  # NoMoreData, as werkzeug raises it
}


def read_body(request: Request) -> bytes:
    """Return the body, at most MAX_CONTENT_LENGTH bytes; raise a 413 past it, MalformedBody if unreadable.

    Werkzeug refuses a Content-Length over the limit, but a body without one (chunked)
    it reads only up to the limit and returns cut short, with no error: here one byte
    more is asked of the server's stream, and getting it means the body is too large.
    """
    with framing_errors():
        body = request.get_data(cache=False)
        if _goes_past_the_cap(request, body):
            abandon_body(request)
            raise RequestEntityTooLarge()
    return body


@contextmanager
def framing_errors() -> Iterator[None]:
    """Turn the server's errors reading a broken or cut-short body into MalformedBody (never its bytes)."""
    try:
        yield
    except tuple(_FRAMING_ERRORS) as exc:
        kind = next(text for cls, text in _FRAMING_ERRORS.items() if isinstance(exc, cls))
        raise MalformedBody(f"malformed request body: {kind}") from None


def _goes_past_the_cap(request: Request, body: bytes) -> bool:
    """Return True if a body without Content-Length has more bytes after the ``body`` werkzeug stopped at."""
    # Short of the limit first (almost every body), a header look-up saved.
    limit = request.max_content_length
    if limit is None or len(body) < limit:
        return False
    # A Content-Length (every client but a chunked one): werkzeug has held that to the limit.
    if request.content_length is not None:
        return False
    # The raw stream: werkzeug's own is exhausted at the limit and would refuse even a body that ends there.
    return bool(request.input_stream.read(1))


def abandon_body(request: Request) -> None:
    """Have the server close the connection after the answer instead of reading the rest of the body.

    Under Gunicorn the body is api/server/protocol.py's ClosingBody; other servers' have no such method.
    """
    abandon = getattr(request.input_stream, "abandon", None)
    if abandon is not None:
        abandon()


def check_tweets(data: dict[str, Any], limits: TweetLimits) -> dict[str, str]:
    """Check a parsed body against ``limits`` (the OpenAPI document states the same); return it unchanged."""
    if not data:
        raise InvalidBody("body must contain at least one tweet")
    if len(data) > limits.max_items:
        raise TooManyItems(f"{len(data)} tweets in one request; the limit is {limits.max_items}")
    for key, value in data.items():
        if not key or len(key) > limits.max_key_chars:
            message = f"keys must be 1 to {limits.max_key_chars} characters"
            raise InvalidItem(message, key=_shorten(key, limits.max_key_chars))
        if not isinstance(value, str):
            raise InvalidItem(f"value must be a string (tweet text), not {_json_type(value)}", key=key)
        if len(value) > limits.max_tweet_chars:
            raise InvalidItem(
                f"tweet is {len(value)} characters; the limit is {limits.max_tweet_chars}", key=key
            )
        if NOT_TEXT.search(key):
            raise InvalidItem("key contains NUL or a lone surrogate", key=key)
        if NOT_TEXT.search(value):
            raise InvalidItem("tweet contains NUL or a lone surrogate", key=key)
    return data


def _shorten(key: str, limit: int = 64) -> str:
    """Return a key cut to ``limit`` characters for an error message."""
    return key if len(key) <= limit else key[:limit] + "..."


def _json_type(value: object) -> str:
    """Name the JSON type of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
