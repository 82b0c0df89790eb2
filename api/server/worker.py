"""Gunicorn's gevent worker and logger, hardened against hostile clients and failing log storage.

The worker: Gunicorn's gevent worker gives its TLS context to gevent's
StreamServer, which completes the handshake while wrapping each accepted socket,
before ``handle`` runs and with no time limit. A connection that never sends a
byte (or stalls mid-handshake) then holds a greenlet forever, and a failed
handshake (plain HTTP on the TLS port, a TLS 1.1 client, a port scanner)
escapes the greenlet as a "<Greenlet ...> failed with SSLError" traceback.
``HardenedGeventWorker`` gives the StreamServer plain sockets and does the
handshake itself in ``handle``, under one deadline of TLS_HANDSHAKE_TIMEOUT
seconds; a failure is one debug line. Reading the request line and headers is
already bounded by ``keepalive`` (``GeventWorker.timeout_ctx``).

The logger: when a log write fails (disk full), the standard library prints a
traceback and the record's arguments, which for the access log are every
request header, the bearer token included; and a log file that cannot be
reopened on SIGUSR1 (log rotation onto a read-only filesystem) stops the
master. ``HardenedLogger`` reports a failing log in one line a minute and keeps
the old file when a reopen fails.

It also writes every line as JSON (api/jsonlog.py): the error log, the app's own
records (sent to the error log's handlers through the root logger) and one
access line per request, with the request's id, method, URL rule, path (never
the query string), status, bytes, duration and client address. Gunicorn's own
error answers (a malformed request) get a request id too, in the answer and in
the lines about it.
"""

import json
import logging
import math
import os
import socket
import sys
import time
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn import glogging, util
from gunicorn.http import wsgi as http_wsgi
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from api import jsonlog as logs
from api.constants import ENVIRON_ROUTE
from api.errors import error_body
from api.security import HEADERS
from api.server.connections import ConnectionCaps, total_cap
from api.server.protocol import (
    HTTP_VERSIONS,
    MESSAGES,
    SERVER_NAME,
    ClosingBody,
    access_args,
    reason_phrase,
    refusal_status,
)
from api.settings import Settings

HANDSHAKE_TIMEOUT_ENV = "TLS_HANDSHAKE_TIMEOUT"
DEFAULT_HANDSHAKE_TIMEOUT = 5.0
# How often a failing log handler may say so: enough to notice, too rare to flood.
FAILURE_REPORT_INTERVAL = 60.0
# (client address, exception) while the worker answers a request Gunicorn refused, else None.
_refusing = ContextVar("refusing", default=None)


def handshake_timeout(environ=os.environ):
    """Return TLS_HANDSHAKE_TIMEOUT in seconds (default 5), or raise ValueError naming the variable."""
    raw = environ.get(HANDSHAKE_TIMEOUT_ENV, str(DEFAULT_HANDSHAKE_TIMEOUT))
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{HANDSHAKE_TIMEOUT_ENV} must be a positive number of seconds, not {raw!r}")
    return seconds


def _peer(addr):
    """Return ``host:port`` of a TCP peer address (or the address as given)."""
    return f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else str(addr)


def write_json_error(sock, status, reason=None, mesg=None, message=None):
    """Answer in the API's JSON error shape, with its security headers, and close.

    Stands in for ``gunicorn.util.write_error``, which answers malformed HTTP
    (a bad request line, oversized headers) with an HTML page. ``mesg``,
    Gunicorn's detail, is left out: it can quote the request's own bytes. So is
    ``reason``: the status line's is the status's own (Gunicorn gave 501 "Bad Request").
    """
    refused = _refusing.get()
    status = refusal_status(status, refused[1] if refused else None)
    reason = reason_phrase(status)
    message = message or MESSAGES.get(status) or f"malformed HTTP request: {reason.lower()}"
    body = json.dumps(error_body(status, message)).encode()
    request_id = logs.request_id.get() or logs.new_request_id()
    head = [f"HTTP/1.1 {status} {reason}", "Connection: close", "Content-Type: application/json"]
    head.append(f"{logs.HEADER}: {request_id}")
    head += [f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in HEADERS.items())]
    util.write_nonblock(sock, "\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)


def _speaks_plain_http(sock):
    """Return True if the client's first byte is a letter (an HTTP method), not a TLS record (0x16)."""
    first = sock.recv(1, socket.MSG_PEEK)
    return first.isalpha()


class FairStreamServer(StreamServer):
    """A StreamServer that stops accepting while its worker holds more than its share of connections.

    See api/server/balance.py: without it, a burst of keep-alive connections all went to
    the first worker to wake up. A paused server looks at the board again every
    ACCEPT_RECHECK seconds and accepts as soon as the worker is back within its
    share (one of its connections closed, or another worker took some), or after
    MAX_ACCEPT_PAUSE seconds whatever the others do, so that a worker that is
    stuck cannot hold connections back.
    """

    ACCEPT_RECHECK = 0.002
    MAX_ACCEPT_PAUSE = 0.05

    def __init__(self, *args, board, slot, **kwargs):
        super().__init__(*args, **kwargs)
        self.board = board
        self.slot = slot
        self._paused = None

    def do_handle(self, *args):
        """Count and serve an accepted connection; pause accepting if this worker now holds too many."""
        self.board.add(self.slot, 1)
        super().do_handle(*args)
        if self._paused is None and self.board.above_share(self.slot):
            self.stop_accepting()
            self._paused = gevent.spawn(self._pause)

    def connection_closed(self):
        """Count a closed connection; if that brings a paused worker back within its share, accept now."""
        self.board.add(self.slot, -1)
        if self._paused is not None and not self.board.above_share(self.slot):
            self._paused.kill(block=False)
            self._paused = None
            self._start_accepting_if_started()

    def _pause(self):
        """Wait until this worker is back within its share (or MAX_ACCEPT_PAUSE), then accept again."""
        waited = 0.0
        while waited < self.MAX_ACCEPT_PAUSE and self.board.above_share(self.slot):
            gevent.sleep(self.ACCEPT_RECHECK)
            waited += self.ACCEPT_RECHECK
        self._paused = None
        self._start_accepting_if_started()


class HardenedGeventWorker(GeventWorker):
    """Gunicorn's gevent worker with the TLS handshake moved into ``handle`` and bounded in time.

    It also answers Gunicorn's own protocol errors as JSON, tells plain-HTTP
    clients to use HTTPS, and cuts off a request that takes longer than
    ``timeout`` seconds (a client sending its body a byte at a time).
    """

    def init_process(self):
        """Read the handshake timeout once, in the worker, then start as Gunicorn does."""
        self.handshake_timeout = handshake_timeout()
        # Gunicorn's error pages are HTML; every answer of this API is JSON.
        util.write_error = write_json_error
        # Each answer's Server header, read when Gunicorn makes a response: not "gunicorn".
        http_wsgi.SERVER = SERVER_NAME
        super().init_process()

    def run(self):
        """Serve like ``GeventWorker.run``, but with plain sockets: ``handle`` does the TLS handshake."""
        self.tls_context = ssl_context(self.cfg) if self.cfg.is_ssl else None
        settings = Settings()
        self.connection_caps = ConnectionCaps(
            settings.MAX_CONNECTIONS_PER_ADDRESS, total_cap(settings.MAX_CONNECTIONS, self.worker_connections)
        )
        self._fair_servers = {}
        servers = [self._start_server(listener) for listener in self.sockets]
        while self.alive:
            self.notify()
            gevent.sleep(1.0)
        self._drain(servers)

    def _start_server(self, listener):
        """Start accepting on ``listener`` with a pool of ``worker_connections`` greenlets."""
        listener.setblocking(1)
        handle = partial(self.handle, listener)
        pool = Pool(self.worker_connections)
        # Set by api.server.balance.pre_fork when there are several workers to share connections with.
        board, slot = getattr(self, "connection_board", None), getattr(self, "board_slot", None)
        if board is not None and slot is not None:
            server = self._fair_servers[id(listener)] = FairStreamServer(
                listener, handle=handle, spawn=pool, board=board, slot=slot
            )
        else:
            server = StreamServer(listener, handle=handle, spawn=pool)
        if self.cfg.workers > 1:
            # As GeventWorker: accept one connection per wake-up, so workers share the load.
            server.max_accept = 1
        server.start()
        return server

    def _drain(self, servers):
        """Stop accepting, let open connections finish within graceful_timeout, then stop them."""
        for server in servers:
            server.close()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline:
            if all(server.pool.free_count() == server.pool.size for server in servers):
                return
            self.notify()
            gevent.sleep(1.0)
        self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
        for server in servers:
            server.stop(timeout=1)

    def handle(self, listener, client, addr):
        """Refuse a connection over the caps at once; else complete the TLS handshake within the time
        limit, then serve the connection as Gunicorn does."""
        group = self.connection_caps.admit(addr)
        try:
            if group is None:
                self.connection_caps.refuse(client)
                return
            if self.tls_context is not None:
                client = self._handshake(client, addr)
                if client is None:
                    return
            super().handle(listener, client, addr)
        finally:
            if group is not None:
                self.connection_caps.release(group)
            fair = self._fair_servers.get(id(listener))
            if fair is not None:
                fair.connection_closed()

    def handle_request(self, listener_name, req, sock, addr):
        """Serve one request within ``timeout`` seconds; past that, close the connection."""
        if req.version not in HTTP_VERSIONS:
            # Unserved, in a version we speak (Gunicorn would answer "HTTP/1.2 200 OK"), then closed.
            request_id = logs.request_id.set(logs.new_request_id())
            try:
                write_json_error(sock, 505)
                self.log.access(*access_args(req, sock, addr, self.cfg, 505))
            finally:
                logs.request_id.reset(request_id)
            raise StopIteration
        # Let every other connection with a request waiting run first (idle: after the event
        # loop has polled for I/O, which sleep(0) does not wait for). Prediction is CPU work
        # that never yields, and without this turn gevent let one keep-alive connection be
        # served again and again while another waited: with two clients on one worker,
        # p99 latency was 25 times p50.
        gevent.idle()
        if req.body is not None:
            # A body that cannot be read to its end (broken chunks, refused as too large) ends the connection.
            req.body = ClosingBody(req)
        deadline = gevent.Timeout(self.cfg.timeout)
        deadline.start()
        try:
            return super().handle_request(listener_name, req, sock, addr)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            self.log.info("request from %s took over %ss: connection closed", _peer(addr), self.cfg.timeout)
            raise StopIteration from None
        finally:
            deadline.close()

    def handle_error(self, req, client, addr, exc):
        """Answer a request Gunicorn itself refused, under a new request id: its log lines carry it too.

        Gunicorn's lines about it quote the error's text, which can quote the request's
        own bytes (a token in a malformed request line's query string): HardenedLogger
        writes the error's kind instead, for the lines logged while this runs.
        """
        token = logs.request_id.set(logs.new_request_id())
        refusal = _refusing.set((addr, exc))
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            _refusing.reset(refusal)
            logs.request_id.reset(token)

    def _handshake(self, client, addr):
        """Return ``client`` wrapped in TLS, or None (and the socket closed) if the handshake failed."""
        # Blocking mode: the deadline below, not a per-read socket timeout, bounds the handshake,
        # so a client that sends one byte at a time cannot stretch it.
        client.setblocking(1)
        tls = None
        reason = f"no handshake within {self.handshake_timeout:g}s"
        try:
            with gevent.Timeout(self.handshake_timeout, False):
                if _speaks_plain_http(client):
                    reason = "plain HTTP on the TLS port"
                    write_json_error(client, 400, "Bad Request", message="this port speaks HTTPS only")
                else:
                    tls = self.tls_context.wrap_socket(
                        client,
                        server_side=True,
                        do_handshake_on_connect=False,
                        suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
                    )
                    tls.do_handshake()
                    return tls
        except OSError as exc:  # ssl.SSLError included: plain HTTP, old TLS, a reset
            reason = str(exc) or type(exc).__name__
        # Debug only: scanners and broken clients would otherwise flood the error log.
        self.log.debug("TLS handshake with %s failed: %s", _peer(addr), reason)
        (tls or client).close()
        return None


class HardenedLogger(glogging.Logger):
    """Gunicorn's logger in JSON lines; a failing log neither leaks request headers nor stops the server."""

    def setup(self, cfg):
        """Make Gunicorn's handlers JSON with a quiet failure report; send the app's records there."""
        super().setup(cfg)
        formatter = logs.JSONFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                handler.handleError = _FailureReporter(handler)
        # The app's records (the app, the token store, flask-limiter, the history writer) go to the
        # error log at LOG_LEVEL. Set here, in the master, so the workers have it from their first
        # line: the app logs while it loads, before any post_worker_init hook runs.
        root = logging.getLogger()
        root.handlers = list(self.error_log.handlers)
        root.setLevel(self.error_log.level)
        # Python's warnings too, which would otherwise be bare lines on stderr.
        logging.captureWarnings(True)

    def warning(self, msg, *args, **kwargs):
        """Log a warning; about a refused request, its kind and client only (see handle_error)."""
        self.error_log.warning(*_redacted(msg, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        """Log an error with its traceback; about a refused request, without the request's URI."""
        self.error_log.exception(*_redacted(msg, args), **kwargs)

    def access(self, resp, req, environ, request_time):
        """Write one JSON access line; never the query string or a request header (they can carry secrets)."""
        if not self.access_log_enabled:
            return
        try:
            status = int(str(resp.status).split(None, 1)[0])
        except ValueError:
            status = None
        fields = {
            "request_id": _request_id_of(resp),
            "method": environ.get("REQUEST_METHOD"),
            # The app's URL rule (api/jsonlog.py), absent when the app did not answer.
            "route": environ.get(ENVIRON_ROUTE),
            "path": environ.get("PATH_INFO"),
            "status": status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        try:
            self.access_log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
        except Exception:
            self.error(traceback.format_exc())

    def reopen_files(self):
        """Reopen log files (SIGUSR1, log rotation); a file that cannot be reopened keeps the old stream.

        Unlike Gunicorn's, this does not re-point stdout and stderr for
        ``capture_output``, which gunicorn.conf.py leaves off (errors go to stderr).
        """
        for log in glogging.loggers():
            for handler in log.handlers:
                if isinstance(handler, logging.FileHandler) and handler.stream:
                    self._reopen(handler)

    def _reopen(self, handler):
        """Point ``handler`` at a freshly opened file, or keep its stream and say why."""
        try:
            stream = handler._open()
        except OSError as exc:
            self.error("cannot reopen log %s, still writing to the old file: %s", handler.baseFilename, exc)
            return
        handler.acquire()
        try:
            old, handler.stream = handler.stream, stream
        finally:
            handler.release()
        old.close()


def _redacted(msg, args):
    """Return ``(msg, *args)`` as given, or, while a refused request is handled, a line naming only
    the client and the kind of error."""
    refused = _refusing.get()
    if refused is None:
        return (msg, *args)
    addr, exc = refused
    return ("request from %s refused: %s", _peer(addr) if addr else "?", type(exc).__name__)


def _request_id_of(resp):
    """Return the X-Request-ID the answer carries, else the id of the request being served, if any."""
    name = logs.HEADER.lower()
    for key, value in resp.headers:
        if key.lower() == name:
            return value
    return logs.request_id.get()


class _FailureReporter:
    """A log handler's ``handleError``: one line on stderr a minute, never the record.

    The standard library would print a traceback and the record's arguments for
    every failed write; for the access log those include the Authorization header.
    """

    def __init__(self, handler):
        self.name = getattr(handler, "baseFilename", None) or getattr(handler.stream, "name", "a stream")
        self.reported_at = -math.inf

    def __call__(self, record):
        """Report the exception being handled, at most once per FAILURE_REPORT_INTERVAL."""
        now = time.monotonic()
        if now - self.reported_at < FAILURE_REPORT_INTERVAL:
            return
        self.reported_at = now
        error = sys.exc_info()[1]
        # By hand, in the shape of api/jsonlog.py's lines: the formatter may be what failed.
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "ERROR",
            "logger": "gunicorn.error",
            "message": f"writing to log {self.name} failed, records lost: {error}",
            "request_id": None,
            "pid": os.getpid(),
        }
        line = json.dumps(line) + "\n"
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except OSError:
            pass  # stderr is failing too: there is nowhere left to report to
