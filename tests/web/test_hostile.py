"""Hostile clients against a real Gunicorn over TLS, all sharing one server.

Idle, stalled-handshake and slowloris connections must not hold up a normal
client and must be closed by the server (TLS_HANDSHAKE_TIMEOUT bounds the
handshake, ``keepalive`` the request line and headers); plain HTTP, old TLS
and junk on the TLS port are refused quietly; requests over Gunicorn's limits
get a 4xx. SIGTERM and a slow body, which need a server of their own, are in
tests/server/test_hostile_timeouts.py.
"""

import json
import re
import socket
import ssl

import pytest

from tests.e2e import (
    LABELS,
    log_records,
    predict,
    running_server,
)
from tests.hostile import Hostile
from tests.web.hostile_helpers import (
    CONF,
    HANDSHAKE_TIMEOUT,
    pinned_tls_context,
    read_response,
    tls_connect,
    wait_for_workers,
)

pytestmark = pytest.mark.e2e

IDLE, STALLED, SLOWLORIS = 200, 25, 25
# A deadline for the server to close every hostile connection (handshake timeout + header timeout),
# three times over for a slow machine: a wait, not a speed bound (`make bench` measures the times).
CLOSE_DEADLINE = 3 * (HANDSHAKE_TIMEOUT + CONF["keepalive"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One Gunicorn (2 workers) with a short handshake timeout, shared by the tests that leave it running."""
    # Every hostile connection comes from 127.0.0.1 here, and the handshake timeout is what these tests
    # check: the per-address cap (tests/server/test_connections_live.py) is raised out of the way.
    # No history: its writer logs its own start-up (a migration) at a moment of its own, which a test
    # could take for a line caused by the hostile clients.
    env = {
        "TLS_HANDSHAKE_TIMEOUT": str(HANDSHAKE_TIMEOUT),
        "API_MAX_CONNECTIONS_PER_ADDRESS": "900",
        "API_HISTORY_URL": "none",
    }
    with running_server(tmp_path_factory.mktemp("hostile"), env=env) as server:
        # Both workers loaded: their start-up lines come before any test's mark in the log.
        wait_for_workers(server)
        yield server


def new_log(server, mark):
    """Return the server log lines written after ``mark`` (a length of the log) that are not access lines."""
    return [line for line in log_records(server.log()[mark:]) if line["logger"] != "gunicorn.access"]


def test_hostile_connections_neither_hold_a_client_nor_stay_open(server):
    mark = len(server.log())
    hostile = Hostile(server.port, server.context, IDLE, STALLED, SLOWLORIS, deadline_s=CLOSE_DEADLINE)
    try:
        hostile.start()
        answers, open_when_served = [], []
        for _ in range(3):
            answers.append(predict(server))
            open_when_served.append(hostile.total - len(hostile.closed_at))
        hostile.join(timeout=CLOSE_DEADLINE + 5)
        idle = hostile.close_times(hostile.idle)
        stalled = hostile.close_times(hostile.stalled)
        slow = hostile.close_times(hostile.slow)
    finally:
        hostile.close_all()
    print(
        f"normal client served with {open_when_served} hostile connections open;"
        f" closed by the server after: idle {min(idle):.1f}-{max(idle):.1f} s,"
        f" stalled handshake {min(stalled):.1f}-{max(stalled):.1f} s,"
        f" slowloris {min(slow):.1f}-{max(slow):.1f} s (measured by `make bench`, not bounded here)"
    )
    assert answers == [(200, LABELS)] * 3
    # Served while hostile connections were held: the slowloris ones last keepalive (5 s) at least.
    assert open_when_served[0] > 0
    assert hostile.unexpected == []
    # Every hostile connection was closed by the server (close_times fails on any still open at the
    # deadline): before the handshake TLS_HANDSHAKE_TIMEOUT applies, after it keepalive bounds the headers.
    assert len(idle + stalled + slow) == hostile.total
    # Hostile connections leave no trace above debug level: a port scan cannot flood the log.
    assert new_log(server, mark) == []


def _plain_http(port):
    """Send a plain-HTTP request to the TLS port; return what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return sock.recv(1024)


def _junk(port):
    """Send bytes that are neither HTTP nor TLS, as a port scanner might; return what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x00\xff" * 512 + b"\r\n\r\n")
        return sock.recv(1024)


def _tls_1_1(port):
    """Attempt a TLS 1.1 handshake; return what came back (nothing: the handshake must fail)."""
    context = pinned_tls_context(ssl.TLSVersion.TLSv1_1)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            context.wrap_socket(sock).close()
        except ssl.SSLError:
            return b""
    raise AssertionError("the server accepted TLS 1.1")


@pytest.mark.parametrize("attempt", [_plain_http, _junk, _tls_1_1], ids=["plain-http", "junk", "tls-1.1"])
def test_non_tls_clients_are_refused_quietly(server, attempt):
    mark = len(server.log())
    try:
        answer = attempt(server.port)
    except ConnectionResetError:
        answer = b""
    assert answer == b"" or re.match(rb"HTTP/1\.[01] 4\d\d ", answer), answer
    if attempt is _plain_http:  # told, in the API's JSON shape, to use HTTPS
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
        error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
        assert (error["code"], error["message"]) == ("bad_request", "this port speaks HTTPS only")
    assert predict(server) == (200, LABELS)
    # No "<Greenlet ...> failed with SSLError" traceback, nor any other line.
    assert new_log(server, mark) == []


LIMITS = {
    "request-line": b"GET /" + b"a" * (CONF["limit_request_line"] + 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header-count": b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(CONF["limit_request_fields"] + 10))
    + b"\r\n",
    "header-size": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    + b"a" * (CONF["limit_request_field_size"] + 10)
    + b"\r\n\r\n",
    # Not a limit, but also answered by Gunicorn's parser before the app sees it.
    "nul-in-header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bad-request-line": b"GET\r\n\r\n",
}


@pytest.mark.parametrize("name", LIMITS)
def test_requests_over_gunicorn_limits_get_a_4xx(server, name):
    mark = len(server.log())
    with tls_connect(server) as tls:
        tls.sendall(LIMITS[name])
        status, headers, body = read_response(tls)
    assert 400 <= status < 500, status
    # Gunicorn's own answers take the API's JSON shape and security headers, not an HTML page.
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["status"] == status
    assert headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert predict(server) == (200, LABELS)
    assert not [line for line in new_log(server, mark) if "exc_info" in line or line["level"] == "ERROR"]
    # The answer names a request id of its own, and so do Gunicorn's lines about it.
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert headers["X-Request-ID"] in {line["request_id"] for line in new_log(server, mark)}
