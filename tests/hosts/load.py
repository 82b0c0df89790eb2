"""Load through HAProxy: clients that each send one predict after another, every outcome recorded.

Keep-alive off: each request opens its own connection (TCP and TLS) through HAProxy. In TCP mode
HAProxy picks a host per connection, so only then is every request balanced, and only then can
HAProxy's retries help: a connection a stopping or dead host refuses is opened on the other host,
while a request sent on a kept-alive connection that the host closes meanwhile is lost for the
client to retry. Clients that keep connections alive must retry such requests themselves.
"""

import http.client
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.e2e import BODY

CLIENTS = 4
REQUEST_TIMEOUT = 10
# A bound on any load, whatever the test waits for: no client runs longer than this.
MAX_LOAD_SECONDS = 180


@dataclass(frozen=True)
class Outcome:
    """One request: when it started and ended (time.monotonic), its status or error, request id and body."""

    started: float
    ended: float
    status: int | None
    request_id: str | None
    error: str | None
    body: bytes = b""


def send(
    port: int, context: ssl.SSLContext, method: str, path: str, token: str, body: object = None
) -> Outcome:
    """Send one request over a connection of its own to HAProxy on ``port``; record what happened."""
    started = time.monotonic()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=REQUEST_TIMEOUT)
    headers = {"Authorization": f"Bearer {token}"}
    payload = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        payload = json.dumps(body)
    try:
        conn.request(method, path, payload, headers)
        response = conn.getresponse()
        body = response.read()
        return Outcome(
            started, time.monotonic(), response.status, response.getheader("X-Request-ID"), None, body
        )
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError and resets included
        return Outcome(started, time.monotonic(), None, None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def predict(port: int, context: ssl.SSLContext, token: str) -> Outcome:
    """POST the two known tweets to /api/v1/predict through HAProxy."""
    return send(port, context, "POST", "/api/v1/predict", token, BODY)


class Load:
    """CLIENTS threads sending predicts until stopped (or MAX_LOAD_SECONDS); their outcomes, in order."""

    def __init__(self, port: int, context: ssl.SSLContext, token: str) -> None:
        self.port, self.context, self.token = port, context, token
        self.stop = threading.Event()
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def _client(self) -> None:
        """Send one request after another until stopped or past the bound."""
        deadline = time.monotonic() + MAX_LOAD_SECONDS
        while not self.stop.is_set() and time.monotonic() < deadline:
            outcome = predict(self.port, self.context, self.token)
            with self._lock:
                self.outcomes.append(outcome)

    def start(self) -> None:
        """Start the clients."""
        for thread in self._threads:
            thread.start()

    def finish(self) -> None:
        """Stop the clients and wait for their last requests (each bounded by REQUEST_TIMEOUT)."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    def count(self) -> int:
        """Return how many requests have ended so far."""
        with self._lock:
            return len(self.outcomes)

    def failures(self) -> list[Outcome]:
        """Return the requests that did not get a 200, so far."""
        with self._lock:
            return [o for o in self.outcomes if o.status != 200]


@contextmanager
def load(port: int, context: ssl.SSLContext, token: str) -> Iterator[Load]:
    """Run a Load while the block runs; stop and join its clients after it."""
    running = Load(port, context, token)
    running.start()
    try:
        yield running
    finally:
        running.finish()
