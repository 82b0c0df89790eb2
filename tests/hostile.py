"""Hostile connections held against a live server: idle, stalled in the TLS handshake, slowloris.

Shared by tests/web/test_hostile.py (which checks that the server closes them all) and
`make bench` (which measures when). Every loop here is bounded in count and in time, and
every socket goes to 127.0.0.1.
"""

import json
import select
import socket
import ssl
import threading
import time

from tests.e2e import BODY
from tests.idle import client_hello

SERVER_ADDRESS = "127.0.0.1"


def tls_socket(port, context):
    """Open a verified TLS connection to the server on loopback."""
    sock = socket.create_connection((SERVER_ADDRESS, port), timeout=10)
    return context.wrap_socket(sock, server_hostname=SERVER_ADDRESS)


def raw_predict(server):
    """Return the head and the body of a predict request, as bytes, to send piece by piece."""
    body = json.dumps(BODY).encode()
    head = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def refused(port):
    """Return True if a TCP connection to ``port`` on loopback is refused (nothing listens there)."""
    try:
        socket.create_connection((SERVER_ADDRESS, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


class Hostile(threading.Thread):
    """Idle, stalled-handshake and slowloris connections, and a thread noting when the server closes each.

    The stalled connections send the first 10 bytes of a ClientHello; the slowloris ones
    complete TLS, then get one byte of a request line a second. The thread stops when all
    are closed or ``deadline_s`` after they were opened.
    """

    DRIP = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100

    def __init__(self, port, context, idle, stalled, slowloris, deadline_s):
        super().__init__(daemon=True)
        self.opened_at = time.monotonic()
        hello = client_hello()[:10]
        self.idle = [socket.create_connection((SERVER_ADDRESS, port)) for _ in range(idle)]
        self.stalled = [socket.create_connection((SERVER_ADDRESS, port)) for _ in range(stalled)]
        for sock in self.stalled:
            sock.sendall(hello)
        self.slow = [tls_socket(port, context) for _ in range(slowloris)]
        for sock in self.idle + self.stalled + self.slow:
            # Non-blocking: a read must never delay noticing that another connection was closed.
            sock.setblocking(False)
        self.total = idle + stalled + slowloris
        self.deadline_s = deadline_s
        self.closed_at = {}  # socket -> seconds after opening
        self.unexpected = []  # anything the server sent on these connections

    def run(self):
        """Drip a byte into every open slowloris connection each second; record closes as they come."""
        deadline = self.opened_at + self.deadline_s
        for sent in range(len(self.DRIP) + int(self.deadline_s) + 1):  # at most a byte a second
            if len(self.closed_at) >= self.total or time.monotonic() >= deadline:
                break
            for sock in self._open(self.slow):
                self._drip(sock, self.DRIP[sent : sent + 1])
            tick = min(time.monotonic() + 1.0, deadline)
            # Each select returns on a close or at the tick: the socket count bounds the passes.
            for _ in range(self.total + 1):
                left = tick - time.monotonic()
                if left <= 0:
                    break
                readable, _, _ = select.select(self._open(self.idle + self.stalled + self.slow), [], [], left)
                for sock in readable:
                    self._check_closed(sock)

    def _open(self, socks):
        """Return the sockets of ``socks`` not yet seen closed."""
        return [sock for sock in socks if sock not in self.closed_at]

    def _drip(self, sock, byte):
        """Send one byte; a refused send means the server closed the connection."""
        if not byte:
            return  # the whole line is sent: nothing left to drip
        try:
            sock.send(byte)
        except ssl.SSLWantWriteError:
            return  # buffers full: not a close
        except (ssl.SSLError, BrokenPipeError, ConnectionResetError):
            self._closed(sock)

    def _check_closed(self, sock):
        """Read from a readable socket: end of stream or a reset means the server closed it."""
        try:
            data = sock.recv(1024)
        except (BlockingIOError, ssl.SSLWantReadError):
            return  # TLS 1.3 session tickets, not application data
        except ConnectionResetError:
            data = b""
        if data == b"":
            self._closed(sock)
        else:
            self.unexpected.append(data[:100])

    def _closed(self, sock):
        """Note when ``sock`` was closed by the server."""
        self.closed_at[sock] = time.monotonic() - self.opened_at

    def close_times(self, socks):
        """Return the close times of ``socks`` (all must be closed)."""
        missing = self._open(socks)
        assert not missing, f"{len(missing)} hostile connections still open after {self.deadline_s}s"
        return [self.closed_at[sock] for sock in socks]

    def close_all(self):
        """Close our side of every connection."""
        for sock in self.idle + self.stalled + self.slow:
            sock.close()
