"""`docker stop` under load: the server's SIGTERM lets every request in flight finish, then exits 0.

A few client threads send predicts back to back, each on a new TLS connection. A connection the
server refuses or cuts before its TLS handshake is done never carried a request (the server had
stopped accepting); a request sent on an accepted connection is in flight and must be answered.
One request is held half-sent across the signal, so one is surely in flight when it arrives.
"""

import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import pytest

from tests.container.docker import LOOPBACK, STOP_TIMEOUT, context_for, docker, https, ready, running
from tests.e2e import BODY, LABELS, wait_until

pytestmark = pytest.mark.container

CLIENTS = 4
# Answered predicts before the signal: the load is running when it comes.
ANSWERED_BEFORE_SIGNAL = 20
# Bounds on each client: requests, and seconds from the start of the load.
MAX_REQUESTS = 5000
LOAD_DEADLINE = 120
# Twenty tweets per predict; limits high enough that the load is never refused (429) by them.
LOAD_BODY = json.dumps({f"t{i}": f"tweet {i} of the load: I love it, or I hate it" for i in range(20)})
UNLIMITED = {"API_RATE_LIMIT": "1000000/minute", "API_WORK_LIMIT": "1000000000/minute"}


@dataclass
class Outcome:
    """One request sent on an accepted connection: its status (None if it failed), or why it failed."""

    status: int | None
    error: str | None = None


class Clients:
    """CLIENTS threads sending predicts until the server is gone, the deadline, or MAX_REQUESTS each."""

    def __init__(self, port: int, context: ssl.SSLContext, token: str) -> None:
        self.port, self.context, self.token = port, context, token
        self.outcomes: list[Outcome] = []
        self.not_accepted = 0
        self.deadline = time.monotonic() + LOAD_DEADLINE
        self.threads = [threading.Thread(target=self._send, daemon=True) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def answered(self) -> int:
        """How many requests got an answer so far."""
        return sum(outcome.status is not None for outcome in list(self.outcomes))

    def join(self) -> int:
        """Wait for the threads (bounded); return how many are still running."""
        for thread in self.threads:
            thread.join(max(0.0, self.deadline - time.monotonic()))
        return sum(thread.is_alive() for thread in self.threads)

    def _send(self) -> None:
        """Send requests on new connections until a connection is refused (the server is gone)."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for _ in range(MAX_REQUESTS):
            if time.monotonic() >= self.deadline:
                return
            conn = http.client.HTTPSConnection(LOOPBACK, self.port, context=self.context, timeout=60)
            try:
                try:
                    conn.connect()  # TCP and the TLS handshake: no request was sent yet
                except ConnectionRefusedError:
                    return  # nothing listens any more
                except OSError:
                    self.not_accepted += 1  # cut in the handshake while the server stopped accepting
                    continue
                try:
                    conn.request("POST", "/api/v1/predict", LOAD_BODY, headers)
                    response = conn.getresponse()
                    response.read()
                    self.outcomes.append(Outcome(response.status))
                except (OSError, http.client.HTTPException) as exc:
                    self.outcomes.append(Outcome(None, f"{type(exc).__name__}: {exc}"))
            finally:
                conn.close()


def _half_sent(port: int, context: ssl.SSLContext, token: str) -> tuple[ssl.SSLSocket, bytes]:
    """Open a TLS connection and send a predict's head and half its body; return it and the rest."""
    body = json.dumps(BODY).encode()
    head = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: {LOOPBACK}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    plain = socket.create_connection((LOOPBACK, port), timeout=STOP_TIMEOUT)
    tls = context.wrap_socket(plain, server_hostname=LOOPBACK)
    tls.sendall(head + body[: len(body) // 2])
    return tls, body[len(body) // 2 :]


def _read_all(tls: ssl.SSLSocket) -> bytes:
    """Read until the server closes the connection (bounded by the socket's timeout)."""
    chunks = []
    for _ in range(10_000):
        chunk = tls.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_sigterm_under_load_exits_0_and_fails_no_request_in_flight(image, secrets):
    options = ["--read-only", "--tmpfs", "/tmp", *secrets.mounts]
    with running(image, "sigterm", *options, env=UNLIMITED) as container:
        context = context_for((secrets.certs / "ca.crt").read_bytes())
        ready(container, context)
        assert https(container.port, context, "POST", "/api/v1/predict", BODY, secrets.token)[0] == 200
        clients = Clients(container.port, context, secrets.token)
        wait_until(lambda: clients.answered() >= ANSWERED_BEFORE_SIGNAL, "the load's first answers", 60)
        tls, rest = _half_sent(container.port, context, secrets.token)
        with tls:
            docker("kill", "--signal", "TERM", container.name)
            # The server stops accepting, and still waits for the half-sent request.
            wait_until(lambda: clients.not_accepted or not clients.threads[0].is_alive(), "refusals", 60)
            tls.sendall(rest)
            answer = _read_all(tls)
        exit_code = docker("wait", container.name, timeout=STOP_TIMEOUT).stdout.strip()
        still_running = clients.join()
        # The server's own account of its stop, for the messages below (its errors and warnings).
        stop_log = [line for line in container.logs()[1].splitlines() if '"level": "INFO"' not in line]

    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == LABELS
    assert exit_code == "0", stop_log[-30:]
    assert still_running == 0
    failed = [outcome for outcome in clients.outcomes if outcome.status != 200]
    assert failed == [], (failed[:5], stop_log[-30:])
    print(
        f"{len(clients.outcomes)} requests answered 200 under load;"
        f" {clients.not_accepted} connections cut before any request was sent"
    )
