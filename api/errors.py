"""The errors a client can cause, and the one JSON shape every layer answers them in.

Flask-free, so that the server process (api/server/) answers its own refusals in the same shape
as the app's handlers (api/web/errors.py).
"""

import re
from collections.abc import Mapping
from http import HTTPStatus


class APIError(Exception):
    """An error the client caused; each subclass names its code, and its status if not 400, once:
    ``class InvalidJSON(APIError, code="invalid_json")``."""

    status = 400
    code = "bad_request"

    def __init_subclass__(cls, *, code: str, status: int = 400) -> None:
        """Give the subclass its code and HTTP status."""
        super().__init_subclass__()
        cls.code, cls.status = code, status

    def __init__(
        self, message: str, key: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        # Headers the answer must carry (Retry-After on a 429, say).
        self.headers = headers


class UnsupportedMediaType(APIError, code="unsupported_media_type", status=415):
    """The body is not declared as JSON."""


class InvalidJSON(APIError, code="invalid_json"):
    """The body is not valid UTF-8 JSON."""


class MalformedBody(APIError, code="malformed_body"):
    """The body cannot be read to its end: broken chunked framing, or cut short."""


class InvalidBody(APIError, code="invalid_body"):
    """The JSON is valid but not an object of id -> tweet text."""


class InvalidItem(APIError, code="invalid_item"):
    """One key or value breaks a rule; ``key`` names it."""


class InvalidParameter(APIError, code="invalid_parameter"):
    """A query parameter has a value the endpoint does not accept; ``key`` names the parameter."""


class TooManyItems(APIError, code="too_many_items"):
    """More tweets than one request may carry."""


class HistoryDisabled(APIError, code="history_disabled", status=404):
    """The server keeps no prediction history (API_HISTORY_URL=none)."""


class HistoryUnavailable(APIError, code="history_unavailable", status=503):
    """The prediction history database does not answer."""


class UnknownPrediction(APIError, code="unknown_prediction", status=404):
    """Feedback names an id the caller's token has no stored prediction of; ``key`` names it.

    404 as another token's job is: whose predictions exist is not the caller's to learn.
    """


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
