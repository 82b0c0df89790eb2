"""What the access line of a request needs from the app: its URL rule.

The request's id is given before the app runs and echoed by api/security.py's middleware; what a
safe id is and how lines carry it: api/jsonlog.py.
"""

from flask import Flask, Response, request

from api import constants as c


def _note_route(response: Response) -> Response:
    """Leave the URL rule in the WSGI environ, for the access log."""
    # The route (never the path's values or the query string) is what the access log records.
    rule = request.url_rule
    request.environ[c.ENVIRON_ROUTE] = rule.rule if rule is not None else None
    return response


def init_app(app: Flask) -> None:
    """Register the route hook on ``app``."""
    app.after_request(_note_route)
