"""Every layer's errors as the app answers them: werkzeug's, auth's, the limiter's and our own."""

import logging
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from flask import Flask, Response, g, jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from api.errors import APIError, code_for, error_body

log = logging.getLogger(__name__)

# Headers an answer carries, as werkzeug lists them or as a mapping.
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class Refusal(NamedTuple):
    """One kind of error answer: its status and its code."""

    status: int
    code: str

    @classmethod
    def of(cls, error: type[APIError]) -> "Refusal":
        """Return the refusal one of our errors answers with."""
        return cls(error.status, error.code)

    @classmethod
    def of_status(cls, status: int) -> "Refusal":
        """Return a refusal of werkzeug's or Gunicorn's, whose code every layer names after the status."""
        return cls(status, code_for(status))

    def answer(self, message: str) -> Response:
        """Return the error response."""
        return error_response(self.status, message, self.code)


# The refusals that are not our errors (flask-httpauth's, flask-limiter's, the readiness probe's):
# stated once, here, for the answers and for the OpenAPI document.
UNAUTHORIZED = Refusal(401, "unauthorized")
RATE_LIMITED = Refusal(429, "rate_limited")
NOT_READY = Refusal(503, "not_ready")


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    key: str | None = None,
    headers: Headers | None = None,
) -> Response:
    """Return the JSON error response every error path shares."""
    response = jsonify(error_body(status, message, code, key))
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


# Where a request keeps the Retry-After its own 429 set (see own_retry_after).
_OWN_RETRY_AFTER = "sentiment_own_retry_after"


def own_retry_after() -> str | None:
    """Return the Retry-After this request's own error set, if any.

    flask-limiter raises any Retry-After to its request window's reset, which for a
    work-budget or in-flight refusal can be a minute (or an hour) later than needed.
    """
    value: str | None = g.get(_OWN_RETRY_AFTER)
    return value


def handle_api_error(exc: APIError) -> Response:
    """Render our own errors."""
    if exc.headers and "Retry-After" in exc.headers:
        setattr(g, _OWN_RETRY_AFTER, exc.headers["Retry-After"])
    return error_response(exc.status, exc.message, exc.code, exc.key, headers=exc.headers)


def handle_http_exception(exc: HTTPException) -> Response:
    """Render werkzeug's and extensions' HTTP errors (404, 405, 413...) as JSON, keeping their headers."""
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    # An HTTPException raised by werkzeug always has its code; 500 if some extension left it out.
    return error_response(exc.code or 500, exc.description or exc.name, headers=headers)


def handle_rate_limited(exc: RateLimitExceeded) -> Response:
    """Say which limit was hit; flask-limiter adds Retry-After and the X-RateLimit headers."""
    return RATE_LIMITED.answer(f"rate limit exceeded: {exc.description}")


def handle_unexpected(exc: Exception) -> Response:
    """Log a bug with its traceback, and answer with a JSON 500 that reveals nothing."""
    log.error("unhandled %s on request", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal error; the server log has the details")


def refuse_routing_redirects() -> None:
    """Answer 404 where werkzeug's routing would redirect (an empty path to "/", say).

    Its redirect goes to the Host the client named, with an HTML body, and Flask sends
    routing redirects without calling error handlers; this runs before that happens.
    """
    if isinstance(request.routing_exception, RequestRedirect):
        raise NotFound()


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.before_request(refuse_routing_redirects)
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(Exception, handle_unexpected)
