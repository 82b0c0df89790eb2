"""Chunked request bodies over the wire: broken framing and bodies past the size cap get a JSON 4xx.

Raw bytes over TLS to 127.0.0.1, since http.client frames chunks correctly and
would never send these. Each refusal must close the connection (where the next
request starts is unknown, or the rest of the body is not worth reading), and a
canary in the body must reach no log line.
"""

import contextlib
import json
import socket
import ssl
import time

import pytest

from tests.e2e import BODY, LABELS, access_records, running_server

pytestmark = pytest.mark.e2e

URL = "/api/v1/predict"
CAP = 4096  # API_MAX_BODY_BYTES of this module's server: small, so a body past it stays small
CANARY = "canary-7f3a9c-do-not-log"
SEND_BUFFER = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One Gunicorn with a small body cap, shared by this module's tests."""
    with running_server(tmp_path_factory.mktemp("chunked"), env={"API_MAX_BODY_BYTES": str(CAP)}) as server:
        yield server


def chunked(*parts):
    """Return ``parts`` framed as one chunk each, then the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def head(server, path=URL):
    """Return the request line and headers of a chunked POST with the server's token."""
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {server.token}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(server):
    """Open a verified TLS connection to the server on 127.0.0.1, with room to send a whole request at once.

    A server that closes with part of a request unread resets the connection, and a
    client still sending then gets an error: with a send buffer larger than any request
    here, ``sendall`` mostly returns before the server answers (see ``send``).
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    sock.settimeout(15)
    sock.connect(("127.0.0.1", server.port))
    return server.context.wrap_socket(sock, server_hostname="127.0.0.1")


def read_response(sock):
    """Read one response from ``sock``: (status, headers with lower-case names, body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:  # bounded: the socket times out, and a closed one raises
        data += _recv(sock)
    top, _, data = data.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(data) < length:
        data += _recv(sock)
    assert len(data) == length, "more bytes than one response: the server answered twice"
    return int(status_line.split()[1]), headers, data


def _recv(sock):
    """Return the next bytes from ``sock``; fail if the connection ends first."""
    data = sock.recv(65536)
    assert data, "connection closed before a whole response"
    return data


def closed_by_server(sock):
    """Return True if the server closes the connection within the socket's timeout, False if not."""
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, ssl.SSLEOFError):
        return True  # closed with bytes of the request unread, or without TLS's close_notify
    except TimeoutError:
        return False


def exchange(server, payload):
    """Send a chunked predict request with ``payload`` as its body; return (status, headers, body, closed)."""
    with connect(server) as sock:
        send(sock, head(server) + payload)
        status, headers, body = read_response(sock)
        sock.settimeout(5)  # keepalive is 5 s too: a connection left open is not closed sooner
        return status, headers, body, closed_by_server(sock)


def send(sock, data):
    """Send ``data``; a server that answered and closed before the last of it arrived is no error here."""
    # The answer was sent before the close, and is still there to read.
    with contextlib.suppress(OSError):
        sock.sendall(data)


def body_of(tweet):
    """Return a JSON predict body with one tweet."""
    return json.dumps({"a": tweet}).encode()


BROKEN = {
    "json that is not chunk-framed": body_of(f"I love this {CANARY}") + b"\r\n",
    "invalid chunk size": b"zz-" + CANARY.encode() + b"\r\n" + chunked(body_of("hello")),
    "chunk extension of 100 kB": b"10;ext=" + CANARY.encode() * 4000 + b"\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n",
    "invalid chunk extension": b"5; not a token " + CANARY.encode() + b"\r\nhello\r\n0\r\n\r\n",
    "chunk without its CRLF": b"5\r\nhello" + CANARY.encode() + b"\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("payload", BROKEN.values(), ids=BROKEN.keys())
def test_broken_chunk_framing_is_a_json_400_and_the_connection_closes(server, payload):
    status, headers, body, closed = exchange(server, payload)
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert (error["status"], error["code"]) == (400, "malformed_body")
    assert CANARY not in error["message"]
    assert headers["connection"] == "close"
    assert closed


def test_a_chunked_body_past_the_cap_is_a_json_413_and_the_connection_closes(server):
    payload = chunked(body_of(CANARY + "x" * (2 * CAP)))
    status, headers, body, closed = exchange(server, payload)
    assert status == 413, body
    error = json.loads(body)["error"]
    assert (error["status"], error["code"]) == (413, "request_entity_too_large")
    assert headers["connection"] == "close"
    assert closed


def test_a_chunked_body_of_exactly_the_cap_is_served_and_the_connection_kept(server):
    valid = json.dumps(BODY).encode()
    payload = valid + b" " * (CAP - len(valid))  # JSON allows trailing whitespace
    with connect(server) as sock:
        for _ in range(2):  # twice on one connection: it stays usable after a chunked body
            sock.sendall(head(server) + chunked(payload[:100], payload[100:]))
            status, headers, body = read_response(sock)
            assert (status, json.loads(body)) == (200, LABELS)
            assert headers["connection"] == "keep-alive"


def test_no_canary_in_any_log_line(server):
    payloads = [*BROKEN.values(), chunked(body_of(CANARY + "x" * (2 * CAP)))]
    expected = len(_refused(server)) + len(payloads)
    for payload in payloads:
        exchange(server, payload)
    deadline = time.monotonic() + 10
    while len(_refused(server)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)  # polling loop with a deadline: access lines are written just after each answer
    assert len(_refused(server)) >= expected
    log = server.log()
    assert CANARY not in log
    assert "Traceback" not in log


def _refused(server):
    """Return the access lines of predict requests that were not served so far."""
    return [line for line in access_records(server.log(), URL) if line["status"] != 200]
