"""Each request's id, and the security headers on every response, errors included, with the id echoed.

A WSGI middleware around the app, so that the id is set before anything of the app runs (a 404 or
a 429 carries one too) and the headers are added where the answer leaves the app, as constant pairs,
not through the response's werkzeug Headers: Headers validates every value it is given (a type check
and a search for line breaks per header), about 1 us each, for six values that never change. What a
safe id is and how log lines carry it: api/jsonlog.py.
"""

from collections.abc import Callable, Iterable
from typing import Any

from api.constants import ENVIRON_REQUEST_ID
from api.jsonlog import HEADER as REQUEST_ID_HEADER
from api.jsonlog import request_id, safe_request_id

HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Each header with its name in lower case, the form in which the answer's own names are compared.
_BY_LOWER_NAME = tuple((name.lower(), (name, value)) for name, value in HEADERS.items())
_REQUEST_ID_LOWER = REQUEST_ID_HEADER.lower()
# The client's X-Request-ID as the WSGI server hands it over.
_REQUEST_ID_ENVIRON = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")

HeaderList = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def with_headers(headers: HeaderList, given_id: str) -> HeaderList:
    """Return ``headers`` with the security headers it lacks, and ``given_id`` unless it names one."""
    present = {name.lower() for name, _ in headers}
    added = [pair for lower, pair in _BY_LOWER_NAME if lower not in present]
    if _REQUEST_ID_LOWER not in present:
        added.append((REQUEST_ID_HEADER, given_id))
    return headers + added


class SecureHeaders:
    """WSGI middleware: each request gets its id; every answer leaves with the headers of ``with_headers``."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request under its id (the log lines' and the access log's), adding the headers."""
        given_id = environ[ENVIRON_REQUEST_ID] = safe_request_id(environ.get(_REQUEST_ID_ENVIRON))

        def start(status: str, headers: HeaderList, exc_info: Any = None) -> Any:
            """Start the answer with the headers added."""
            return start_response(status, with_headers(headers, given_id), exc_info)

        token = request_id.set(given_id)
        try:
            return self._app(environ, start)
        finally:
            # The next request on this connection (greenlet) gets its own.
            request_id.reset(token)
