"""One JSON error shape for every layer: werkzeug, auth, limiter and our own."""

import logging
import re
from http import HTTPStatus

from flask import jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

log = logging.getLogger(__name__)


class APIError(Exception):
    """An error the client caused; subclasses carry their HTTP status and code."""

    status = 400
    code = "bad_request"

    def __init__(self, message, key=None, headers=None):
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


def error_response(status, message, code=None, key=None, headers=None):
    """Return the JSON error response every error path shares."""
    error = {"status": status, "code": code or code_for(status), "message": message}
    if key is not None:
        error["key"] = key
    response = jsonify(error=error)
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def code_for(status):
    """Return a snake_case code for an HTTP status ("Too Many Requests" -> "too_many_requests")."""
    try:
        name = HTTPStatus(status).phrase
    except ValueError:
        name = "error"
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def handle_api_error(exc):
    """Render our own errors."""
    return error_response(exc.status, exc.message, exc.code, exc.key, headers=exc.headers)


def handle_http_exception(exc):
    """Render werkzeug's and extensions' HTTP errors (404, 405, 413...) as JSON, keeping their headers."""
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return error_response(exc.code, exc.description or exc.name, headers=headers)


def handle_rate_limited(exc):
    """Say which limit was hit; flask-limiter adds Retry-After and the X-RateLimit headers."""
    return error_response(429, f"rate limit exceeded: {exc.description}", code="rate_limited")


def handle_unexpected(exc):
    """Log a bug with its traceback, and answer with a JSON 500 that reveals nothing."""
    log.error("unhandled %s on request", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal error; the server log has the details")


def refuse_routing_redirects():
    """Answer 404 where werkzeug's routing would redirect (an empty path to "/", say).

    Its redirect goes to the Host the client named, with an HTML body, and Flask sends
    routing redirects without calling error handlers; this runs before that happens.
    """
    if isinstance(request.routing_exception, RequestRedirect):
        raise NotFound()


def init_app(app):
    """Register the handlers on ``app``."""
    app.before_request(refuse_routing_redirects)
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(Exception, handle_unexpected)
