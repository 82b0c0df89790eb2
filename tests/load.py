"""Load generators for the live hostile-load tests: a flood of large predicts, paced probes.

Every loop here is bounded in count and in time, and every socket goes to 127.0.0.1
(from 127.0.0.x source addresses, all loopback).
"""

import contextlib
import http.client
import math
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

from api.settings import Settings

SERVER_ADDRESS = "127.0.0.1"
# Letters for 234 of the 256 byte values, a space for the other 22: words of ~10 letters on
# average, so nearly every word of a request is new to the server's chunk memo.
_WORDS = bytes(ord("a") + i % 26 if i < 234 else ord(" ") for i in range(256))


def server_defaults(monkeypatch, names):
    """Unset the environment variables ``names`` here; return the server's own defaults for them.

    The returned environment pins each API_* setting to its default in api/settings.py,
    over running_server's test values; a setting whose default is computed at start-up
    (None), or that is not an API_* setting, is left unset instead.
    """
    env = {}
    for name in names:
        monkeypatch.delenv(name, raising=False)
        field = Settings.model_fields.get(name.removeprefix("API_")) if name.startswith("API_") else None
        if field is not None and field.default is not None:
            env[name] = str(field.default)
    return env


def random_tweets_body(rng, tweets, chars):
    """Return a JSON object of ``tweets`` random-word tweets of exactly ``chars`` characters, as bytes."""
    raw = rng.randbytes(tweets * chars).translate(_WORDS)
    # Lowercase letters and spaces only: nothing to escape in JSON.
    items = (b'"%d":"%s"' % (i, raw[i * chars : (i + 1) * chars]) for i in range(tweets))
    return b"{" + b",".join(items) + b"}"


def percentile(values, q):
    """Return the nearest-rank ``q`` quantile (0 < q <= 1) of ``values``; NaN if there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary_ms(seconds):
    """Return 'n=…, p50 … ms, p90 … ms, max … ms' for a list of durations in seconds."""
    ms = [s * 1000 for s in seconds]
    return (
        f"n={len(ms)}, p50 {percentile(ms, 0.5):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms,"
        f" max {max(ms, default=math.nan):.0f} ms"
    )


@dataclass
class Probe:
    """One request on a new connection: how long it took, its status (None if it failed) and why."""

    seconds: float
    status: int | None
    error: str | None = None


def timed_request(port, context, method, path, body=None, token=None, timeout=5.0, source=SERVER_ADDRESS):
    """Send one request on a new TLS connection from ``source``; return a Probe, connecting included."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    conn = http.client.HTTPSConnection(
        SERVER_ADDRESS, port, context=context, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        response.read()
        return Probe(time.monotonic() - started, response.status)
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError and timeouts are OSErrors
        return Probe(time.monotonic() - started, None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


class Pacer(threading.Thread):
    """Starts ``probe()`` every ``interval`` seconds for ``duration`` seconds, each in a thread of its own.

    Open loop, as independent clients are: a slow answer does not delay the next
    probe, so a stall is measured by every probe it holds up. ``results`` keeps
    them in order; a probe still unanswered ``patience`` seconds after the last
    one started counts as failed.
    """

    def __init__(self, probe, interval, duration, patience):
        super().__init__(daemon=True)
        self.probe, self.interval, self.duration, self.patience = probe, interval, duration, patience
        self.results = []
        self.cancelled = threading.Event()  # set to start no more probes

    def run(self):
        """Start the probes on schedule, then wait for their answers."""
        start = time.monotonic()
        slots = [None] * math.ceil(self.duration / self.interval)
        threads = []
        for slot in range(len(slots)):
            # Pacing of the load generator: wait for this probe's slot (a schedule, not a condition).
            if self.cancelled.wait(max(0.0, start + slot * self.interval - time.monotonic())):
                break
            threads.append(threading.Thread(target=self._one, args=(slots, slot), daemon=True))
            threads[-1].start()
        deadline = time.monotonic() + self.patience
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        unanswered = Probe(self.patience, None, "no answer")
        self.results = [probe or unanswered for probe in slots]

    def _one(self, slots, slot):
        """Run one probe into its slot."""
        slots[slot] = self.probe()


class Flood:
    """One token's flood: ``connections`` threads, each POSTing on its own keep-alive TLS connection.

    Each request is a fresh body from ``make_body(rng)`` (one seeded rng per thread);
    a connection the server closes is opened again. Threads stop at ``duration``
    seconds after ``start``, after ``max_requests`` each, or at ``stop``.
    """

    def __init__(self, port, context, token, path, make_body, connections, source, seed, timeout=60.0):
        self.port, self.context, self.token, self.path = port, context, token, path
        self.make_body, self.source, self.seed, self.timeout = make_body, source, seed, timeout
        self.statuses = Counter()  # status -> count, plus "connects", "errors" and "cut at stop"
        self.seconds = []  # how long each answered request took
        self._lock = threading.Lock()
        self._conns = [None] * connections
        self._sent_at = [None] * connections  # when the request in flight on each connection was sent
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._attack, args=(i,), daemon=True) for i in range(connections)
        ]
        self.deadline = math.inf

    def start(self, duration, max_requests=100_000):
        """Start every connection's thread; each stops by itself after ``duration`` seconds."""
        self.deadline = time.monotonic() + duration
        self.max_requests = max_requests
        for thread in self._threads:
            thread.start()

    def stop(self, timeout):
        """Stop the threads, cutting requests in flight; return the number still running after ``timeout``."""
        self._stopping.set()
        with self._lock:
            self.statuses["cut at stop"] = sum(sent is not None for sent in self._sent_at)
        deadline = time.monotonic() + timeout
        # Again and again: a thread that was still connecting has a socket to cut only later.
        for _ in range(int(timeout / 0.1) + 1):
            self._cut()
            for thread in self._threads:
                thread.join(0.1 / len(self._threads))
            if time.monotonic() >= deadline or not any(t.is_alive() for t in self._threads):
                break
        return sum(thread.is_alive() for thread in self._threads)

    def _cut(self):
        """Shut every open connection down, which unblocks a thread waiting on it at once."""
        for conn in list(self._conns):
            sock = conn.sock if conn is not None else None
            if sock is not None:
                # The plain socket's shutdown, on the TLS socket's file descriptor.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _count(self, key, index=None):
        """Count one outcome (a status, "connects" or "errors"), unless the flood is being stopped.

        With ``index``, the outcome ends the request in flight on that connection.
        """
        with self._lock:
            if self._stopping.is_set():
                return
            self.statuses[key] += 1
            if index is not None:
                if isinstance(key, int):
                    self.seconds.append(time.monotonic() - self._sent_at[index])
                self._sent_at[index] = None

    def _attack(self, index):
        """Send requests back to back on connection ``index`` until the deadline, the cap or stop."""
        rng = random.Random(f"{self.seed}-{index}")
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for _ in range(self.max_requests):
            if self._stopping.is_set() or time.monotonic() >= self.deadline:
                break
            conn = self._conns[index] or self._connect(index)
            body = self.make_body(rng)
            self._sent_at[index] = time.monotonic()
            try:
                conn.request("POST", self.path, body, headers)
                response = conn.getresponse()
                response.read()
                self._count(response.status, index)
                if response.will_close:
                    self._close(index)
            except (OSError, http.client.HTTPException, ValueError):
                self._count("errors", index)
                self._close(index)
        self._close(index)

    def _connect(self, index):
        """Open connection ``index`` (TLS happens on its first request)."""
        self._count("connects")
        address = (self.source, 0)
        conn = _Connection(
            SERVER_ADDRESS, self.port, context=self.context, timeout=self.timeout, source_address=address
        )
        self._conns[index] = conn
        return conn

    def _close(self, index):
        """Close connection ``index`` if open."""
        conn, self._conns[index] = self._conns[index], None
        if conn is not None:
            conn.close()


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection whose ``sock`` is the TLS socket during the handshake too, so it can be cut.

    http.client's own hands the plain socket's descriptor over to the TLS socket
    and keeps the emptied plain socket in ``sock`` until the handshake is done.
    """

    def connect(self):
        """Connect over TCP, then do the TLS handshake on the socket kept in ``sock``."""
        http.client.HTTPConnection.connect(self)
        tls = self._context.wrap_socket(self.sock, server_hostname=self.host, do_handshake_on_connect=False)
        self.sock = tls
        self.sock.do_handshake()
