"""Every layer's errors as the app answers them: werkzeug's, auth's, the limiter's and our own."""

import logging

from flask import jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from api.errors import APIError, error_body

log = logging.getLogger(__name__)


def error_response(status, message, code=None, key=None, headers=None):
    """Return the JSON error response every error path shares."""
    response = jsonify(error_body(status, message, code, key))
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


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
