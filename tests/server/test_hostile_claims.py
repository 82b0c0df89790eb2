"""README "Hostile clients and faults", the statements no other test pins: the figures it gives, each
Gunicorn limit's own status, which answers name the server, the 505's close, one debug line for junk.

The live tests share one Gunicorn at LOG_LEVEL=debug, so the debug lines can be counted.
"""

import contextlib
import json
import socket
import ssl
import time

import pytest

from api.settings import Settings
from tests.e2e import log_records, running_server
from tests.web.hostile_helpers import CONF, pinned_tls_context, read_response, tls_connect

# Each figure the section states, as (where it is set, the README's value).
FIGURES = {
    "request line limit": (CONF["limit_request_line"], 4094),
    "header count limit": (CONF["limit_request_fields"], 50),
    "header size limit": (CONF["limit_request_field_size"], 8190),
    "keepalive": (CONF["keepalive"], 5),
    "graceful_timeout": (CONF["graceful_timeout"], 20),
    "REQUEST_TIMEOUT": (Settings.model_fields["REQUEST_TIMEOUT"].default, 30),
    "API_MAX_IN_FLIGHT": (Settings.model_fields["MAX_IN_FLIGHT"].default, 8),
    "API_MAX_BODY_BYTES": (Settings.model_fields["MAX_BODY_BYTES"].default, 2 * 1024 * 1024),
    "API_MAX_CONNECTIONS_PER_ADDRESS": (Settings.model_fields["MAX_CONNECTIONS_PER_ADDRESS"].default, 100),
    "largest request, tweets": (Settings.model_fields["MAX_ITEMS"].default, 1000),
    "largest request, characters a tweet": (Settings.model_fields["MAX_TWEET_CHARS"].default, 560),
}


@pytest.mark.parametrize(("configured", "stated"), FIGURES.values(), ids=FIGURES.keys())
def test_the_figures_the_readme_states_are_the_configured_ones(configured, stated):
    assert configured == stated


def test_the_request_timeout_is_gunicorns_timeout():
    assert CONF["timeout"] == CONF["settings"].REQUEST_TIMEOUT


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One Gunicorn (1 worker) logging at debug level, shared by this module's live tests."""
    env = {"LOG_LEVEL": "debug", "API_HISTORY_URL": "none"}
    with running_server(tmp_path_factory.mktemp("hostile-claims"), env=env, workers=1) as server:
        yield server


def _exchange(server, raw):
    """Send ``raw`` on a new TLS connection; return (status, headers, body) of one answer."""
    with tls_connect(server) as tls:
        tls.sendall(raw)
        return read_response(tls)


def _get(extra=b"", path="/healthz"):
    """Return a GET of ``path`` with ``extra`` header lines."""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + extra + b"\r\n"


LIMITS = {
    "request line over 4094 bytes": (_get(path="/" + "a" * 4100), 414),
    "over 50 headers": (_get(b"".join(b"X-H%d: v\r\n" % i for i in range(51))), 431),
    "a header over 8190 bytes": (_get(b"X-Big: " + b"b" * 8200 + b"\r\n"), 431),
}


@pytest.mark.e2e
@pytest.mark.parametrize(("raw", "status"), LIMITS.values(), ids=LIMITS.keys())
def test_each_gunicorn_limit_gets_its_own_status_without_naming_a_server(server, raw, status):
    got, headers, body = _exchange(server, raw)
    assert got == status
    assert json.loads(body)["error"]["status"] == status
    # Gunicorn's refusals are written by the worker, which names no server at all.
    assert "Server" not in headers


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/healthz", "/nothing"])
def test_the_apps_answers_say_server_sentiment_api(server, path):
    status, headers, _ = _exchange(server, _get(path=path))
    assert status in (200, 404)
    assert headers.get_all("Server") == ["sentiment-api"]


@pytest.mark.e2e
def test_a_505_closes_a_connection_the_client_would_keep(server):
    # No "Connection: close" from the client: the server must close of its own accord.
    with tls_connect(server) as tls:
        tls.sendall(b"GET /healthz HTTP/1.2\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, _ = read_response(tls)
        tls.settimeout(10)
        try:
            rest = tls.recv(1)
        except (ConnectionResetError, ssl.SSLEOFError):
            rest = b""
    assert (status, headers["Connection"]) == (505, "close")
    assert rest == b""


def _junk(port):
    """Send bytes that are neither HTTP nor TLS; return our (address, port)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x00\xff" * 512 + b"\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):  # dropped: what this test expects
            sock.recv(1024)
        return sock.getsockname()


def _tls_1_1(port):
    """Attempt a TLS 1.1 handshake, which must fail; return our (address, port)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        ours = sock.getsockname()
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            pinned_tls_context(ssl.TLSVersion.TLSv1_1).wrap_socket(sock).close()
        return ours


@pytest.mark.e2e
@pytest.mark.parametrize("attempt", [_junk, _tls_1_1], ids=["junk", "tls-1.1"])
def test_junk_and_tls_1_1_are_dropped_with_one_debug_line(server, attempt):
    mark = len(server.log())
    host, port = attempt(server.port)

    def about_us():
        """Return the log lines written since ``mark`` that name our connection."""
        return [line for line in log_records(server.log()[mark:]) if f"{host}:{port}" in json.dumps(line)]

    deadline = time.monotonic() + 10
    while not about_us() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling loop with a deadline
    lines = about_us()
    assert [line["level"] for line in lines] == ["DEBUG"], lines
    assert lines[0]["message"].startswith(f"TLS handshake with {host}:{port} failed")
    log = server.log()[mark:]
    assert "Traceback" not in log
    assert not [line for line in log_records(log) if line["level"] not in ("DEBUG", "INFO")]
