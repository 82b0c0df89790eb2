"""Splitting a long predict into requests within the server's limits, in order.

The limits are the server's own, read from its OpenAPI document (api/client/client.py): keys per
request (the ``Tweets`` schema's ``maxProperties``) and body bytes (the request body's
``x-max-body-bytes``, when declared). The work budget's cap on one request depends on the models and
on explaining, which only the server prices: a request it refuses as too large (413) is refused
before any work, so the client halves what it sends and carries on (``narrowed``).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from api.client.errors import ClientError

# The JSON around the items of a body: ``{`` and ``}``, and the comma between two items.
BRACES_BYTES, COMMA_BYTES = 2, 1
# What a 413 means (api/errors.py codes): the body's bytes, or the work it would cost.
TOO_LARGE = 413
WORK_TOO_LARGE = "work_too_large"


@dataclass(frozen=True)
class Item:
    """One tweet of a predict, encoded once: its key, its ``"key":"text"`` bytes, and its characters."""

    key: str
    encoded: bytes
    chars: int


@dataclass(frozen=True)
class Limits:
    """What one request may hold: keys, body bytes, characters (None: no limit known)."""

    items: int
    body_bytes: int | None = None
    chars: int | None = None


def encode(tweets: Mapping[str, str]) -> list[Item]:
    """Return the tweets as Items, in order; raise ClientError for one that is not text or not encodable."""
    items = []
    for key, text in tweets.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise ClientError(f"every id and tweet must be text (str); id {key!r} is not")
        try:
            encoded = (
                json.dumps(key, ensure_ascii=False) + ":" + json.dumps(text, ensure_ascii=False)
            ).encode()
        except UnicodeEncodeError as exc:
            raise ClientError(f"tweet {key!r} is not valid Unicode text ({exc.reason})") from exc
        # The work budget counts a tweet as one character at least.
        items.append(Item(key, encoded, max(1, len(text))))
    return items


def body(batch: Sequence[Item]) -> bytes:
    """Return the JSON object of ``batch``, in its order: what the batch's size was counted on."""
    return b"{" + b",".join(item.encoded for item in batch) + b"}"


def next_batch(items: Sequence[Item], start: int, limits: Limits) -> int:
    """Return the end of the longest batch from ``start`` within ``limits`` (at least one item).

    One item over a limit on its own goes alone: the server's answer says what is wrong with it.
    """
    size, chars, end = BRACES_BYTES, 0, start
    while end < len(items) and end - start < limits.items:
        item = items[end]
        grown = size + len(item.encoded) + (COMMA_BYTES if end > start else 0)
        over_bytes = limits.body_bytes is not None and grown > limits.body_bytes
        over_chars = limits.chars is not None and chars + item.chars > limits.chars
        if end > start and (over_bytes or over_chars):
            break
        size, chars, end = grown, chars + item.chars, end + 1
    return end


def narrowed(limits: Limits, error: ClientError, batch: Sequence[Item]) -> Limits | None:
    """Return limits that halve ``batch`` after the server refused it as too large; None: do not retry.

    A 413 comes before any work (nothing scored or stored), so the halves may be sent. A batch of one
    cannot be split: its error is the answer.
    """
    if error.status != TOO_LARGE or len(batch) < 2:
        return None
    if error.code == WORK_TOO_LARGE:
        return replace(limits, chars=sum(item.chars for item in batch) // 2)
    return replace(limits, body_bytes=len(body(batch)) // 2)
