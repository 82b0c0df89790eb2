"""Hostile clients against a real Gunicorn over TLS, each test with a server of its own.

SIGTERM lets a request in flight finish (graceful_timeout); a body sent too slowly is cut off
(REQUEST_TIMEOUT).
"""

import contextlib
import json
import os
import select
import signal
import socket
import ssl
from pathlib import Path

import pytest

from tests.e2e import (
    LABELS,
    predict,
    running_server,
    wait_until,
    worker_pids,
)
from tests.hostile import raw_predict, refused
from tests.web.hostile_helpers import CONF, read_response, tls_connect, wait_for_workers

pytestmark = pytest.mark.e2e


def test_sigterm_lets_a_request_in_flight_finish(tmp_path):
    graceful_timeout = CONF["graceful_timeout"]
    with running_server(tmp_path) as server:
        wait_for_workers(server)
        head, body = raw_predict(server)
        # The TLS handshake is done by the worker that accepted the connection: from here the
        # request is in flight in a worker, whatever it has read of it yet.
        with tls_connect(server) as tls:
            tls.sendall(head + body[: len(body) // 2])
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: refused(server.port), "the server stops accepting after SIGTERM")
            assert server.process.poll() is None, "the master did not wait for the request in flight"
            tls.sendall(body[len(body) // 2 :])
            status, _, answer = read_response(tls)
        assert (status, json.loads(answer)) == (200, LABELS)
        # A deadline, not a speed: past graceful_timeout Gunicorn would have killed the worker, and
        # the answer above would have been lost. How long the exit takes is measured by `make bench`.
        server.process.wait(timeout=graceful_timeout + 30)
    assert server.process.returncode == 0


def test_sigterm_serves_a_connection_accepted_before_the_listener_closed(tmp_path):
    # Gunicorn reads the listener's address when it starts serving a connection, after our TLS
    # handshake: with the socket closed by the drain meanwhile, that failed (EBADF) and the
    # connection was dropped unanswered.
    with running_server(tmp_path) as server:
        wait_for_workers(server)
        head, body = raw_predict(server)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            wait_until(lambda: _accepted_by_a_worker(server, raw), "a worker accepts the connection")
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: refused(server.port), "the server stops accepting after SIGTERM")
            with server.context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(head + body)
                status, _, answer = read_response(tls)
        assert (status, json.loads(answer)) == (200, LABELS)
        server.process.wait(timeout=CONF["graceful_timeout"] + 30)
    assert server.process.returncode == 0


def _accepted_by_a_worker(server, client):
    """True once a worker holds the server's end of ``client`` (not only the kernel's backlog)."""
    ends = {f"{port:04X}" for port in (server.port, client.getsockname()[1])}
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
        if {local, remote} == ends and local == f"{server.port:04X}":
            inodes.add(f"socket:[{fields[9]}]")
    held = set()
    for pid in worker_pids(server):
        with contextlib.suppress(OSError):  # a descriptor closed while we read the folder
            held |= {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    return bool(inodes & held)


def test_a_body_sent_too_slowly_is_cut_off(tmp_path):
    with running_server(tmp_path, env={"REQUEST_TIMEOUT": "3"}) as server:
        wait_for_workers(server)
        workers = worker_pids(server)
        head, body = raw_predict(server)
        with tls_connect(server) as tls:
            tls.sendall(head)
            tls.setblocking(False)  # a read must not wait: the next byte is due
            # One byte, then up to DRIP_S waiting for the server to close, and again: the whole body
            # would take len(body) * DRIP_S, ten times REQUEST_TIMEOUT.
            sent, closed = 0, False
            for byte in body:
                try:
                    tls.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                sent += 1
                if _closed_within(tls, DRIP_S):
                    closed = True
                    break
        assert closed, "the slow client still held its connection after sending its whole body"
        assert sent < len(body), "the server waited for the whole body"
        # The worker that cut it off still serves: the timeout closed a connection, not the worker.
        assert predict(server) == (200, LABELS)
        assert worker_pids(server) == workers
    print(f"cut off after {sent} of {len(body)} body bytes (the time it takes: `make bench`)")


# Seconds between two bytes of the slow body.
DRIP_S = 0.5


def _closed_within(tls, seconds):
    """Wait up to ``seconds`` for the server to end the request on ``tls``; return True if it did.

    A close, a reset or an answer (which can only be a refusal: the body is not complete) ends it.
    """
    readable, _, _ = select.select([tls], [], [], seconds)
    if not readable:
        return False
    try:
        tls.recv(65536)
    except ssl.SSLWantReadError:
        return False  # TLS housekeeping (TLS 1.3 session tickets), not an answer
    except OSError:
        return True  # a reset
    return True
