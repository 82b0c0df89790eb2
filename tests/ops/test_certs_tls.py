"""Tests for api.ops.certs: real TLS handshakes with the generated certificates, hostname verification."""

import socket
import ssl
import threading

import pytest

from api.ops import certs
from tests.ops import helpers as certs_helpers

# The shared fixtures, found by pytest under these names (_no_env_sans is autouse).
_no_env_sans = certs_helpers._no_env_sans
paths = certs_helpers.paths


def serve_once(paths):
    """Accept one TLS connection in a thread; return (port, thread, outcome list)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths["server_cert"], paths["server_key"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    outcome = []

    def run():
        with listener:
            try:
                conn, _ = listener.accept()
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
                    outcome.append("handshake")
            except (ssl.SSLError, OSError) as exc:
                outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, outcome


def connect(port, context, server_hostname):
    """Connect to the loopback server and return the first bytes it sends."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        return tls.recv(2), tls.getpeercert()


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_tls_handshake_with_hostname_verification(paths, hostname):
    port, thread, outcome = serve_once(paths)
    client = ssl.create_default_context(cafile=str(paths["ca_cert"]))
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
    data, peer = connect(port, client, hostname)
    thread.join(10)
    assert data == b"ok"
    assert outcome == ["handshake"]
    assert ("DNS", "localhost") in peer["subjectAltName"]


def test_tls_handshake_fails_for_a_name_not_in_the_cert(paths):
    port, thread, _ = serve_once(paths)
    client = ssl.create_default_context(cafile=str(paths["ca_cert"]))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        connect(port, client, "not-in-cert.example")
    thread.join(10)


def test_tls_handshake_fails_without_trusting_the_ca(paths, tmp_path):
    port, thread, _ = serve_once(paths)
    other = certs.generate(tmp_path / "other")
    client = ssl.create_default_context(cafile=str(other["ca_cert"]))
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(port, client, "localhost")
    thread.join(10)
