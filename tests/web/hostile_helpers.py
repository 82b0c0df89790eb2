"""Shared helpers of the hostile-client tests (tests/*/test_hostile*.py): settings, TLS, responses."""

import http.client
import runpy
import socket
import ssl
import time
import warnings

from tests.e2e import (
    ROOT,
    access_records,
    predict,
)

CONF = runpy.run_path(str(ROOT / "gunicorn.conf.py"))


HANDSHAKE_TIMEOUT = 2  # seconds; short, to keep these tests fast


def tls_connect(server):
    """Open a verified TLS connection to the server."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return server.context.wrap_socket(sock, server_hostname="127.0.0.1")


def read_response(sock):
    """Read one HTTP response from ``sock``; return (status, headers, body bytes)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


def wait_for_workers(server, count=2, timeout=20):
    """Send requests until ``count`` workers have answered one: each has its signal handlers by then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {str(line["pid"]) for line in access_records(server.log(), "/api/v1/predict")}
        if len(pids) >= count:
            return pids
        assert predict(server)[0] == 200
    raise AssertionError(f"fewer than {count} workers answered in {timeout}s:\n{server.log()}")


def pinned_tls_context(version):
    """A client context that offers exactly one TLS version, old ones included, and verifies nothing.

    Lowering the client's security level lets it offer TLS 1.1 at all, so a
    refusal is the server's, not the client's own.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    return context
