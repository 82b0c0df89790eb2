"""The request-id hooks of the app: each request's id from X-Request-ID or new, echoed, and logged.

What a safe id is and how lines carry it: api/jsonlog.py.
"""

from flask import Flask, Response, request

from api import constants as c
from api.jsonlog import HEADER, request_id, safe_request_id


def _begin() -> None:
    """Give the request its id, for the log lines written while it is served."""
    request_id.set(safe_request_id(request.headers.get(HEADER)))


def _echo(response: Response) -> Response:
    """Leave the URL rule for the access log (api/security.py returns the request id to the client)."""
    # The route (never the path's values or the query string) is what the access log records.
    rule = request.url_rule
    request.environ[c.ENVIRON_ROUTE] = rule.rule if rule is not None else None
    return response


def _end(_exc: BaseException | None) -> None:
    """Forget the request id: the next request on this connection (greenlet) gets its own."""
    request_id.set(None)


def init_app(app: Flask) -> None:
    """Register the request-id hooks on ``app``; before the limiter's, so even a 429 carries an id."""
    app.before_request(_begin)
    app.after_request(_echo)
    app.teardown_request(_end)
