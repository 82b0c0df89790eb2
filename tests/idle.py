"""Idle TCP connections from another loopback address, held open against a live server.

Every loop here is bounded in count and in time; every socket goes to 127.0.0.1.
"""

import contextlib
import errno
import resource
import select
import selectors
import socket
import ssl
import threading
import time
from collections import Counter

from tests.load import SERVER_ADDRESS

# Linux's IP_BIND_ADDRESS_NO_PORT (Python 3.11 does not name it): bind to a source address
# but choose the port at connect(), so thousands of connections do not exhaust bind()'s ports.
_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def raise_fd_limit(needed):
    """Raise this process's soft limit on open files to the hard limit if it is below ``needed``.

    Returns the limits as they were, for ``resource.setrlimit`` to restore.
    """
    before = soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return before


def tcp_socket(source):
    """Return a TCP socket bound to the loopback address ``source`` (its port chosen at connect)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IP, _BIND_ADDRESS_NO_PORT, 1)
    sock.bind((source, 0))
    return sock


def client_hello():
    """Return a complete TLS ClientHello, as a client would send it first."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=SERVER_ADDRESS)
    with contextlib.suppress(ssl.SSLWantReadError):  # expected: it now waits for the ServerHello
        tls.do_handshake()
    return outgoing.read()


def first_answer(sock, data, timeout):
    """Send ``data`` and wait up to ``timeout`` s for the server's answer.

    Returns "closed" (end of stream), "reset", "open" (nothing came) or the number
    of bytes the server sent (a TLS server's ServerHello, say).
    """
    sock.settimeout(timeout)
    try:
        sock.sendall(data)
        answer = sock.recv(4096)
    except TimeoutError:
        return "open"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return "closed" if answer == b"" else len(answer)


def is_open(sock):
    """Return True if the server has neither closed ``sock`` nor sent anything on it."""
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


class IdleConnections(threading.Thread):
    """Holds ``count`` idle TCP connections from ``source``, opening a new one for each the server closes.

    Non-blocking sockets in one selector; runs for ``duration`` seconds, ``max_opens``
    connections or ``max_wakeups`` selector wake-ups, whichever comes first. A connect
    that fails (no port left, a refusal) is tried again RETRY_S later, so the attacker
    keeps trying to hold ``count``. ``held_samples`` counts, twice a second, the
    connections open for HELD_S or more (a connection the server closes at once is
    open for a moment, but not held).
    """

    HELD_S = 1.0
    RETRY_S = 0.05

    def __init__(self, port, source, count, duration, max_opens=5_000_000, max_wakeups=5_000_000):
        super().__init__(daemon=True)
        self.port, self.source, self.count, self.duration = port, source, count, duration
        self.max_opens, self.max_wakeups = max_opens, max_wakeups
        self.opens = self.closed = self.bytes_received = 0
        self.failures = Counter()  # why connects failed, by errno name
        self.held_samples = []
        self.opened = threading.Event()  # set once the first ``count`` connects are under way
        self.cpu_seconds = 0.0  # this thread's own CPU: the load generator shares the machine
        self._since = {}  # open socket -> when it connected
        self._missing = 0  # connections to try again

    def run(self):
        """Open ``count`` connections, then watch and reopen them until the deadline."""
        selector = selectors.DefaultSelector()
        deadline = time.monotonic() + self.duration
        try:
            for _ in range(self.count):
                self._open(selector)
            self.opened.set()
            sample_at = retry_at = time.monotonic()
            for _ in range(self.max_wakeups):
                if (now := time.monotonic()) >= deadline:
                    break
                if now >= sample_at:
                    self.held_samples.append(sum(now - t >= self.HELD_S for t in self._since.values()))
                    sample_at = now + 0.5
                if self._missing and now >= retry_at:
                    self._retry(selector)
                    retry_at = now + self.RETRY_S
                for key, _ in selector.select(timeout=self.RETRY_S):
                    self._event(selector, key)
        finally:
            self.cpu_seconds = time.thread_time()
            self.opened.set()
            for key in list(selector.get_map().values()):
                key.fileobj.close()
            selector.close()

    def _retry(self, selector):
        """Try again the connects that failed."""
        missing, self._missing = self._missing, 0
        for _ in range(missing):
            self._open(selector)

    def _open(self, selector):
        """Start a non-blocking connect, unless ``max_opens`` are spent; a failure is retried later."""
        if self.opens >= self.max_opens:
            return
        self.opens += 1
        try:
            sock = tcp_socket(self.source)
        except OSError as exc:  # out of descriptors or ports
            self._failed(exc.errno)
            return
        sock.setblocking(False)
        code = sock.connect_ex((SERVER_ADDRESS, self.port))
        if code == 0:
            selector.register(sock, selectors.EVENT_READ, "open")
            self._since[sock] = time.monotonic()
        elif code == errno.EINPROGRESS:
            selector.register(sock, selectors.EVENT_WRITE, "connecting")
        else:
            self._failed(code)
            sock.close()

    def _failed(self, code):
        """Count a failed connect by its reason, and try it again later."""
        self.failures[errno.errorcode.get(code, str(code))] += 1
        self._missing += 1

    def _event(self, selector, key):
        """A connect finished, or an open connection became readable (closed, or bytes from the server)."""
        sock = key.fileobj
        if key.data == "connecting":
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                selector.modify(sock, selectors.EVENT_READ, "open")
                self._since[sock] = time.monotonic()
                return
            self._failed(code)
            selector.unregister(sock)
            sock.close()
            return
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:  # a reset
            data = b""
        if data:
            self.bytes_received += len(data)
            return
        self.closed += 1
        del self._since[sock]
        selector.unregister(sock)
        sock.close()
        self._open(selector)  # at once, as an attacker would
