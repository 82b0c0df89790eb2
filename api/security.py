"""Security headers on every response, errors included, and the request id echoed.

Added where the answer leaves the app (a WSGI middleware around it) as constant pairs, not through
the response's werkzeug Headers: Headers validates every value it is given (a type check and a
search for line breaks per header), about 1 us each, for six values that never change.
"""

from collections.abc import Callable, Iterable
from typing import Any

from api.jsonlog import HEADER as REQUEST_ID_HEADER
from api.jsonlog import request_id

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

HeaderList = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def with_headers(headers: HeaderList) -> HeaderList:
    """Return ``headers`` with the security headers it lacks, and the request id (api/jsonlog.py) if set."""
    present = {name.lower() for name, _ in headers}
    added = [pair for lower, pair in _BY_LOWER_NAME if lower not in present]
    current = request_id.get()
    if current is not None and REQUEST_ID_HEADER.lower() not in present:
        added.append((REQUEST_ID_HEADER, current))
    return headers + added


class SecureHeaders:
    """WSGI middleware: every answer of the wrapped app leaves with the headers of ``with_headers``."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request, adding the headers as the answer starts."""

        def start(status: str, headers: HeaderList, exc_info: Any = None) -> Any:
            """Start the answer with the headers added."""
            return start_response(status, with_headers(headers), exc_info)

        return self._app(environ, start)
