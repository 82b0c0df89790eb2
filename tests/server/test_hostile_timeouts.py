"""Hostile clients against a real Gunicorn over TLS, each test with a server of its own.

SIGTERM lets a request in flight finish (graceful_timeout); a body sent too slowly is cut off
(REQUEST_TIMEOUT).
"""

import json
import signal
import socket
import time

import pytest

from tests.e2e import (
    BODY,
    LABELS,
    predict,
    running_server,
)
from tests.web.hostile_helpers import CONF, read_response, tls_connect, wait_for_workers

pytestmark = pytest.mark.e2e


def _raw_predict(server):
    """Return the head and the body of a predict request, as bytes, to send piece by piece."""
    body = json.dumps(BODY).encode()
    head = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def test_sigterm_lets_a_request_in_flight_finish(tmp_path):
    graceful_timeout = CONF["graceful_timeout"]
    with running_server(tmp_path) as server:
        wait_for_workers(server)
        head, body = _raw_predict(server)
        with tls_connect(server) as tls:
            tls.sendall(head + body[: len(body) // 2])
            time.sleep(0.5)  # the worker is now in the app, reading the body
            stopped_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            time.sleep(1.5)  # a worker notices within a second
            assert server.process.poll() is None, "the master did not wait for the request in flight"
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
            tls.sendall(body[len(body) // 2 :])
            status, _, answer = read_response(tls)
        assert (status, json.loads(answer)) == (200, LABELS)
        server.process.wait(timeout=graceful_timeout + 5)
        elapsed = time.monotonic() - stopped_at
    print(f"master exited {server.process.returncode} {elapsed:.1f} s after SIGTERM")
    assert server.process.returncode == 0
    assert elapsed < graceful_timeout


def test_a_body_sent_too_slowly_is_cut_off(tmp_path):
    with running_server(tmp_path, env={"REQUEST_TIMEOUT": "3"}) as server:
        head, body = _raw_predict(server)
        with tls_connect(server) as tls:
            tls.sendall(head)
            started = time.monotonic()
            closed = False
            for byte in body:  # one byte every 0.5 s: the whole body would take far longer than 3 s
                try:
                    tls.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                if time.monotonic() - started > 10:
                    break
                time.sleep(0.5)
            if not closed:
                tls.settimeout(5)
                try:
                    closed = tls.recv(1) == b""
                except OSError:
                    closed = True
            elapsed = time.monotonic() - started
        assert closed, "the slow client still held its connection"
        assert elapsed < 8
        assert predict(server) == (200, LABELS)
