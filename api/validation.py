"""Checking a predict request body: JSON object of id -> tweet text, within limits."""

import json
import re

from api.errors import InvalidBody, InvalidItem, InvalidJSON, TooManyItems, UnsupportedMediaType

# NUL and lone UTF-16 surrogates (which JSON's \\u escapes can smuggle in) are
# not text: refuse them rather than pass them to the model or echo them back.
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class _DuplicateKey(ValueError):
    """A JSON object repeats a key."""

    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _unique_object(pairs):
    """Build a dict from JSON pairs, refusing repeated keys (the last would silently win)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _refuse_constant(name):
    """Refuse NaN and Infinity, which are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(request):
    """Return the request body as a dict, or raise the APIError that says what is wrong."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the JSON body must be UTF-8")
    body = request.get_data(cache=False)  # werkzeug enforces MAX_CONTENT_LENGTH (413) here
    try:
        text = body.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8 (byte {exc.start})") from exc
    except _DuplicateKey as exc:
        raise InvalidBody("duplicate key in JSON object", key=_shorten(exc.key)) from exc
    except RecursionError as exc:
        raise InvalidJSON("JSON nested too deeply") from exc
    except ValueError as exc:
        raise InvalidJSON(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidBody(f"body must be a JSON object of id -> tweet text, not {_json_type(data)}")
    return data


def check_tweets(data, max_items, max_tweet_chars, max_key_chars):
    """Check a parsed body against the limits; return it unchanged."""
    if not data:
        raise InvalidBody("body must contain at least one tweet")
    if len(data) > max_items:
        raise TooManyItems(f"{len(data)} tweets in one request; the limit is {max_items}")
    for key, value in data.items():
        if not key or len(key) > max_key_chars:
            raise InvalidItem(
                f"keys must be 1 to {max_key_chars} characters", key=_shorten(key, max_key_chars)
            )
        if not isinstance(value, str):
            raise InvalidItem(f"value must be a string (tweet text), not {_json_type(value)}", key=key)
        if len(value) > max_tweet_chars:
            raise InvalidItem(f"tweet is {len(value)} characters; the limit is {max_tweet_chars}", key=key)
        if _NOT_TEXT.search(key):
            raise InvalidItem("key contains NUL or a lone surrogate", key=key)
        if _NOT_TEXT.search(value):
            raise InvalidItem("tweet contains NUL or a lone surrogate", key=key)
    return data


def _shorten(key, limit=64):
    """Return a key cut to ``limit`` characters for an error message."""
    return key if len(key) <= limit else key[:limit] + "..."


def _json_type(value):
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
