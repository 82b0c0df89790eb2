"""HTTP/1.x details over the wire: no Server header naming Gunicorn, a reason phrase that matches its
status, HTTP versions other than 1.0 and 1.1 refused with a 505, no redirect to the client's Host.

Raw requests over TLS to 127.0.0.1, since http.client would never send most of these.
"""

import json
import socket
from http import HTTPStatus

import pytest

from tests.e2e import access_records, running_server, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's own Gunicorn (2 workers, TLS, high limits): its tests only read, none counts
    connections, workers or log lines, so they share it."""
    with running_server(tmp_path_factory.mktemp("protocol")) as running:
        yield running


MAX_RESPONSE = 1024 * 1024


def exchange(server, raw):
    """Send ``raw`` bytes on a new TLS connection; return (version, status, reason, headers, body) of the
    answer, read until the server closes the connection (every request here asks it to, or is refused)."""
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with server.context.wrap_socket(plain, server_hostname="127.0.0.1") as sock:
        sock.sendall(raw.replace(b"{token}", server.token.encode()))
        data = b""
        while len(data) < MAX_RESPONSE:  # bounded, and each recv by the socket's timeout
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, status, reason = status_line.split(" ", 2)
    headers = [
        (name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)
    ]
    return version, int(status), reason, headers, body


def get(path="/healthz", version="HTTP/1.1", extra=b""):
    """Return the bytes of a GET that asks the server to close after answering."""
    return f"GET {path} {version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode() + extra + b"\r\n"


PREDICT = (
    b"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    b'Content-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"a": "hi!"}'
)
# Answered by the app, and refused by Gunicorn before the app (in the API's JSON shape, api/server/worker.py).
ANSWERS = {
    "health": (get(), 200),
    "predict": (PREDICT, 200),
    "unknown path": (get("/nothing"), 404),
    "request line too long": (get("/" + "a" * 5000), 414),
    "header too large": (get(extra=b"X-Big: " + b"b" * 9000 + b"\r\n"), 431),
    "invalid header name": (get(extra=b"Bad Header: x\r\n"), 400),
    "unsupported transfer coding": (
        b"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: br, chunked\r\n\r\n",
        501,
    ),
}


@pytest.mark.parametrize(("raw", "status"), ANSWERS.values(), ids=ANSWERS.keys())
def test_no_server_header_names_gunicorn_and_the_reason_matches_the_status(server, raw, status):
    version, got, reason, headers, _ = exchange(server, raw)
    assert (version, got) == ("HTTP/1.1", status)
    assert reason.lower() == HTTPStatus(status).phrase.lower()
    servers = [value for name, value in headers if name == "server"]
    assert all("gunicorn" not in value.lower() for value in servers), servers
    assert servers in ([], ["sentiment-api"])


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/1.9", "HTTP/2.0", "HTTP/3.0", "HTTP/0.9"])
def test_an_http_version_other_than_1_0_and_1_1_is_a_json_505(server, version):
    answered_in, status, reason, headers, body = exchange(server, get("/healthz", version))
    assert (answered_in, status, reason) == ("HTTP/1.1", 505, "HTTP Version Not Supported")
    assert dict(headers)["content-type"] == "application/json"
    assert dict(headers)["connection"] == "close"
    error = json.loads(body)["error"]
    assert (error["status"], error["code"]) == (505, "http_version_not_supported")


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/1.9"])
def test_an_http_1_x_version_past_gunicorns_parser_is_logged_as_a_505_and_never_served(tmp_path, version):
    # Past Gunicorn's parser the worker refuses it, and logs it. A server of its own: the test counts
    # access lines, which no other test's request may add to.
    with running_server(tmp_path) as own:
        assert exchange(own, get("/healthz", version))[1] == 505
        wait_until(lambda: _healthz_lines(own, 505), "the access line of the 505")
        assert not _healthz_lines(own, 200)


def _healthz_lines(server, status):
    """Return the access lines for /healthz with ``status``."""
    return [line for line in access_records(server.log(), "/healthz") if line["status"] == status]


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_http_1_0_and_1_1_are_served(server, version):
    answered_in, status, _, _, body = exchange(server, get("/healthz", version))
    assert (answered_in, status, json.loads(body)) == (version, 200, {"status": "ok"})


def test_an_absolute_form_request_with_no_path_is_a_404_not_a_redirect(server):
    raw = b"GET https://evil.example HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    _, status, _, headers, body = exchange(server, raw)
    assert "location" not in dict(headers)
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
