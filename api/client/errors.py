"""The one exception of the client, built from the API's JSON error when there is one."""

import json
from typing import Any

# Error answers are small JSON; a larger body is not one of the API's.
ERROR_BODY_BYTES = 1 << 16


class ClientError(Exception):
    """A request could not be made or was refused; the message says why, for a person to read.

    ``status``, ``code`` and ``key`` are the API's (``429``, ``rate_limited``, the key at fault) when
    it answered with an error; all None when no answer came (unreachable, TLS refused, no token).
    """

    def __init__(
        self, message: str, status: int | None = None, code: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.key = status, code, key


def error_of(status: int, reason: str, body: bytes) -> ClientError:
    """Return the ClientError of an error answer: ``HTTP 400 invalid_item: ...``, else its status alone."""
    try:
        error: dict[str, Any] = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        # Not the API's JSON (a proxy's HTML page, say): its text is not repeated.
        return ClientError(f"HTTP {status} {reason}".rstrip(), status)
    key = error.get("key")
    return ClientError(f"HTTP {status} {code}: {message}", status, code, None if key is None else str(key))
