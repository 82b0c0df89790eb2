"""HTTP/1.x rules the worker (api/server/worker.py) adds to Gunicorn's: which versions are served, what its
refusals say (in the API's JSON error shape), and what becomes of a connection whose request body is not
read to its end."""

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from http import HTTPStatus
from typing import Any, Protocol, Self, TypeAlias, TypeVar

from gunicorn import util
from gunicorn.config import Config
from gunicorn.http.errors import InvalidHTTPVersion, NoMoreData, ParseException
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ

from api import jsonlog as logs
from api.addresses import SocketAddress
from api.errors import error_body
from api.security import HEADERS

# RFC 9112 is HTTP/1.1, and 1.0 is still spoken. Gunicorn's parser also lets HTTP/1.2 to 1.9 through
# and answers in the request's own version ("HTTP/1.2 200 OK"), for a protocol that does not exist.
HTTP_VERSIONS = frozenset({(1, 0), (1, 1)})
# The Server header of every answer, instead of Gunicorn's name: clients need not know what runs here.
SERVER_NAME = "sentiment-api"
# What a refusal says beyond its status (otherwise "malformed HTTP request: <reason>").
MESSAGES = {
    501: "unsupported Transfer-Encoding: send the body with Content-Length, or chunked",
    505: "HTTP version not supported: use HTTP/1.1",
}
# The client and the error of the request Gunicorn refused that this greenlet is answering, else None.
# The worker's answer reads it (505 for an unserved version), and so does the logger (api/server/logger.py),
# which writes only the error's kind: the error's text can quote the request's own bytes.
Refusal: TypeAlias = tuple[SocketAddress, BaseException]
refusing: ContextVar[Refusal | None] = ContextVar("refusing", default=None)


@contextmanager
def refused(addr: SocketAddress, exc: BaseException) -> Iterator[None]:
    """Answer and log a request Gunicorn refused within the block: under a new request id, as a refusal."""
    with logs.new_request():
        token = refusing.set((addr, exc))
        try:
            yield
        finally:
            refusing.reset(token)


def refusal_status(status: int, exc: BaseException | None) -> int:
    """Return the status to refuse a request with: 505 for a well-formed version Gunicorn does not serve.

    Gunicorn refuses HTTP/2.0 or HTTP/0.9 in a request line with 400, as if it were
    malformed; a version that is not even well-formed ("HTTP/1.1x") stays a 400.
    """
    if isinstance(exc, InvalidHTTPVersion) and isinstance(exc.version, tuple):
        return 505
    return status


def reason_phrase(status: int) -> str:
    """Return the reason phrase of ``status`` ("Not Implemented" for 501)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Body(Protocol):
    """What ClosingBody uses of Gunicorn's request body (gunicorn.http.body.Body)."""

    failed: bool

    def read(self, size: int | None = None) -> bytes: ...

    def readline(self, size: int | None = None) -> bytes: ...

    def readlines(self, size: int | None = None) -> list[bytes]: ...


_Read = TypeVar("_Read", bytes, list[bytes])


class ClosingBody:
    """A request body (wsgi.input) whose connection closes after the answer when it is not read to its end.

    A chunked body with broken framing cannot be read on, so where the next request
    starts is unknown (Gunicorn closes, but its answer said keep-alive); one the app
    refuses as too large is not worth reading (``abandon``). Either way the request is
    marked ``must_close``: the answer says ``Connection: close`` and the connection ends.
    """

    def __init__(self, req: Request) -> None:
        self._req = req
        self._body: _Body = req.body

    @property
    def failed(self) -> bool:
        """True once a read failed (Gunicorn's parser then closes rather than read the next request)."""
        return self._body.failed

    def read(self, size: int | None = None) -> bytes:
        """Read up to ``size`` bytes (all, if None)."""
        return self._guarded(self._body.read, size)

    def readline(self, size: int | None = None) -> bytes:
        """Read one line, of at most ``size`` bytes."""
        return self._guarded(self._body.readline, size)

    def readlines(self, size: int | None = None) -> list[bytes]:
        """Read every line."""
        return self._guarded(self._body.readlines, size)

    def __iter__(self) -> Self:
        """Iterate over the body's lines."""
        return self

    def __next__(self) -> bytes:
        """Return the next line, or stop at the body's end."""
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def abandon(self) -> None:
        """The app will not read the rest of the body: close the connection after the answer."""
        self._req.must_close = True

    def _guarded(self, read: Callable[[int | None], _Read], size: int | None) -> _Read:
        """Call ``read``; if the body cannot be read on, abandon it and re-raise."""
        try:
            return read(size)
        except (ParseException, NoMoreData):
            self.abandon()
            raise


def access_args(
    req: Request, sock: socket.socket, addr: SocketAddress, cfg: Config, status: int
) -> tuple[Response, Request, dict[str, Any], timedelta]:
    """Return the arguments of the access log's ``access`` for a request the worker refused itself."""
    environ = default_environ(req, sock, cfg)
    environ.update(PATH_INFO=req.path, REMOTE_ADDR=addr[0] if isinstance(addr, tuple) else str(addr))
    resp = Response(req, sock, cfg)
    resp.status = f"{status} {reason_phrase(status)}"
    return resp, req, environ, timedelta(0)


def write_json_error(
    sock: socket.socket,
    status: int,
    reason: str | None = None,
    mesg: str | None = None,
    message: str | None = None,
) -> None:
    """Answer in the API's JSON error shape, with its security headers, and close.

    Stands in for ``gunicorn.util.write_error``, which answers malformed HTTP
    (a bad request line, oversized headers) with an HTML page. ``mesg``,
    Gunicorn's detail, is left out: it can quote the request's own bytes. So is
    ``reason``: the status line's is the status's own (Gunicorn gave 501 "Bad Request").
    """
    refusal = refusing.get()
    status = refusal_status(status, refusal[1] if refusal else None)
    reason = reason_phrase(status)
    message = message or MESSAGES.get(status) or f"malformed HTTP request: {reason.lower()}"
    body = json.dumps(error_body(status, message)).encode()
    request_id = logs.request_id.get() or logs.new_request_id()
    head = [f"HTTP/1.1 {status} {reason}", "Connection: close", "Content-Type: application/json"]
    head.append(f"{logs.HEADER}: {request_id}")
    head += [f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in HEADERS.items())]
    util.write_nonblock(sock, "\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)
