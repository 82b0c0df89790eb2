"""Gunicorn's gevent worker, hardened against hostile clients.

Gunicorn's gevent worker gives its TLS context to gevent's StreamServer, which
completes the handshake while wrapping each accepted socket, before ``handle``
runs and with no time limit. A connection that never sends a byte (or stalls
mid-handshake) then holds a greenlet forever, and a failed handshake (plain
HTTP on the TLS port, a TLS 1.1 client, a port scanner) escapes the greenlet as
a "<Greenlet ...> failed with SSLError" traceback. ``HardenedGeventWorker``
gives the StreamServer plain sockets and does the handshake itself in
``handle``, under one deadline of TLS_HANDSHAKE_TIMEOUT seconds; a failure is
one debug line. Reading the request line and headers is already bounded by
``keepalive`` (``GeventWorker.timeout_ctx``).

Gunicorn's own error answers (a malformed request) are JSON, with a request id;
the logger (api/server/logger.py) keeps the request's bytes out of its lines.
"""

import socket
import ssl
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent
from gevent import Greenlet
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn import util
from gunicorn.http import wsgi as http_wsgi
from gunicorn.http.message import Request
from gunicorn.sock import BaseSocket, ssl_context
from gunicorn.workers.ggevent import GeventWorker

from api import jsonlog as logs
from api.addresses import SocketAddress, peer
from api.server.balance import ConnectionBoard
from api.server.connections import ConnectionCaps, total_cap
from api.server.listeners import ListenerName
from api.server.protocol import (
    HTTP_VERSIONS,
    SERVER_NAME,
    ClosingBody,
    access_args,
    refused,
    write_json_error,
)
from api.settings import Settings


def _speaks_plain_http(sock: socket.socket) -> bool:
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

    def __init__(self, *args: Any, board: ConnectionBoard, slot: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.board = board
        self.slot = slot
        self._paused: Greenlet | None = None

    def do_handle(self, *args: Any) -> None:
        """Count and serve an accepted connection; pause accepting if this worker now holds too many."""
        self.board.add(self.slot, 1)
        super().do_handle(*args)
        if self._paused is None and self.board.above_share(self.slot):
            self.stop_accepting()
            self._paused = gevent.spawn(self._pause)

    def connection_closed(self) -> None:
        """Count a closed connection; if that brings a paused worker back within its share, accept now."""
        self.board.add(self.slot, -1)
        if self._paused is not None and not self.board.above_share(self.slot):
            self._paused.kill(block=False)
            self._paused = None
            self._start_accepting_if_started()

    def _pause(self) -> None:
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

    tls_context: ssl.SSLContext | None
    # Set by gunicorn.conf.py's post_worker_init: makes the app's /readyz refuse (api/web/health.py).
    on_stopping: Callable[[], None] | None = None

    def init_process(self) -> None:
        """Read the settings once, in the worker, then start as Gunicorn does."""
        self.settings = Settings()
        self.handshake_timeout = self.settings.TLS_HANDSHAKE_TIMEOUT
        # Gunicorn's error pages are HTML; every answer of this API is JSON.
        util.write_error = write_json_error
        # Each answer's Server header, read when Gunicorn makes a response: not "gunicorn".
        http_wsgi.SERVER = SERVER_NAME
        super().init_process()

    def run(self) -> None:
        """Serve like ``GeventWorker.run``, but with plain sockets: ``handle`` does the TLS handshake."""
        self.tls_context = ssl_context(self.cfg) if self.cfg.is_ssl else None
        settings = self.settings
        self.connection_caps = ConnectionCaps(
            settings.MAX_CONNECTIONS_PER_ADDRESS, total_cap(settings.MAX_CONNECTIONS, self.worker_connections)
        )
        # The FairStreamServer of each listening socket, by id(), when there are several workers.
        self._fair_servers: dict[int, FairStreamServer] = {}
        self._listener_names = {
            id(listener): ListenerName(listener.getsockname()) for listener in self.sockets
        }
        servers = [self._start_server(listener) for listener in self.sockets]
        while self.alive:
            self.notify()
            gevent.sleep(1.0)
        self._leave_rotation()
        self._drain(servers)

    def _leave_rotation(self) -> None:
        """After SIGTERM: fail /readyz and go on serving for SHUTDOWN_DELAY seconds, so that a load
        balancer's checks take this host out before its listening socket closes."""
        delay = self.settings.SHUTDOWN_DELAY
        if delay <= 0:
            return
        if self.on_stopping is not None:
            self.on_stopping()
        self.log.info("stopping: /readyz refuses; serving %.1f s more before closing", delay)
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            self.notify()
            gevent.sleep(min(1.0, left))

    def _start_server(self, listener: BaseSocket) -> StreamServer:
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

    def _drain(self, servers: list[StreamServer]) -> None:
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

    def handle(self, listener: BaseSocket, client: socket.socket, addr: SocketAddress) -> None:
        """Refuse a connection over the caps at once; else complete the TLS handshake within the time
        limit, then serve the connection as Gunicorn does."""
        group = self.connection_caps.admit(addr)
        try:
            if group is None:
                self.connection_caps.refuse(client)
                return
            if self.tls_context is not None:
                tls = self._handshake(client, addr, self.tls_context)
                if tls is None:
                    return
                client = tls
            super().handle(self._listener_names[id(listener)], client, addr)
        finally:
            if group is not None:
                self.connection_caps.release(group)
            fair = self._fair_servers.get(id(listener))
            if fair is not None:
                fair.connection_closed()

    def handle_request(
        self, listener_name: SocketAddress, req: Request, sock: socket.socket, addr: SocketAddress
    ) -> None:
        """Serve one request within ``timeout`` seconds; past that, close the connection."""
        if req.version not in HTTP_VERSIONS:
            # Unserved, in a version we speak (Gunicorn would answer "HTTP/1.2 200 OK"), then closed.
            with logs.new_request():
                write_json_error(sock, 505)
                self.log.access(*access_args(req, sock, addr, self.cfg, 505))
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
            super().handle_request(listener_name, req, sock, addr)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            self.log.info("request from %s took over %ss: connection closed", peer(addr), self.cfg.timeout)
            raise StopIteration from None
        finally:
            deadline.close()

    def handle_error(
        self, req: Request | None, client: socket.socket, addr: SocketAddress, exc: BaseException
    ) -> None:
        """Answer a request Gunicorn itself refused, under a new request id that its log lines carry too.

        Gunicorn's lines about it quote the error's text, which can quote the request's own bytes
        (a token in a malformed request line): see protocol.refusing for what the logger writes instead.
        """
        with refused(addr, exc):
            super().handle_error(req, client, addr, exc)

    def _handshake(
        self, client: socket.socket, addr: SocketAddress, context: ssl.SSLContext
    ) -> ssl.SSLSocket | None:
        """Return ``client`` wrapped in TLS, or None (and the socket closed) if the handshake failed."""
        # Blocking mode: the deadline below, not a per-read socket timeout, bounds the handshake,
        # so a client that sends one byte at a time cannot stretch it.
        client.setblocking(True)
        tls = None
        reason = f"no handshake within {self.handshake_timeout:g}s"
        try:
            with gevent.Timeout(self.handshake_timeout, False):
                if _speaks_plain_http(client):
                    reason = "plain HTTP on the TLS port"
                    write_json_error(client, 400, "Bad Request", message="this port speaks HTTPS only")
                else:
                    tls = context.wrap_socket(
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
        self.log.debug("TLS handshake with %s failed: %s", peer(addr), reason)
        (tls or client).close()
        return None
