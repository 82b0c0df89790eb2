"""The errors a client can cause, and the one JSON shape every layer answers them in.

Flask-free, so that the server process (api/server/) answers its own refusals in the same shape
as the app's handlers (api/web/errors.py).
"""

import re
from collections.abc import Mapping
from http import HTTPStatus


class APIError(Exception):
    """An error the client caused; subclasses carry their HTTP status and code."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, key: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        # Headers the answer must carry (Retry-After on a 429, say).
        self.headers = headers


class UnsupportedMediaType(APIError):
    """The body is not declared as JSON."""

    status = 415
    code = "unsupported_media_type"


class InvalidJSON(APIError):
    """The body is not valid UTF-8 JSON."""

    code = "invalid_json"


class MalformedBody(APIError):
    """The body cannot be read to its end: broken chunked framing, or cut short."""

    code = "malformed_body"


class InvalidBody(APIError):
    """The JSON is valid but not an object of id -> tweet text."""

    code = "invalid_body"


class InvalidItem(APIError):
    """One key or value breaks a rule; ``key`` names it."""

    code = "invalid_item"


class InvalidParameter(APIError):
    """A query parameter has a value the endpoint does not accept; ``key`` names the parameter."""

    code = "invalid_parameter"


class TooManyItems(APIError):
    """More tweets than one request may carry."""

    code = "too_many_items"


class HistoryDisabled(APIError):
    """The server keeps no prediction history (API_HISTORY_URL=none)."""

    status = 404
    code = "history_disabled"


class HistoryUnavailable(APIError):
    """The prediction history database does not answer."""

    status = 503
    code = "history_unavailable"


def error_body(
    status: int, message: str, code: str | None = None, key: str | None = None
) -> dict[str, dict[str, int | str]]:
    """Return the JSON error object every error path shares: ``{"error": {status, code, message[, key]}}``."""
    error: dict[str, int | str] = {"status": status, "code": code or code_for(status), "message": message}
    if key is not None:
        error["key"] = key
    return {"error": error}


def code_for(status: int) -> str:
    """Return a snake_case code for an HTTP status ("Too Many Requests" -> "too_many_requests")."""
    try:
        name = HTTPStatus(status).phrase
    except ValueError:
        name = "error"
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
