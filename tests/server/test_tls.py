"""TLS: Mozilla's intermediate profile (checked by sslyze), the modern switch, and mutual TLS."""

import socket
import ssl
import subprocess

import pytest

from api.ops.certs import generate, issue_client_cert
from api.server.tls import TLS12_CIPHERS, harden
from tests.conftest import ROOT, SSLYZE
from tests.e2e import running_server, wait_for_token, wait_ready

TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


def _server_context(profile, openssl_conf):
    return harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), profile, openssl_conf)


def test_intermediate_profile_allows_tls12_aead_suites_only():
    context = _server_context("intermediate", "/x")
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    names = {cipher["name"] for cipher in context.get_ciphers()}
    assert names - TLS13_SUITES == set(TLS12_CIPHERS.split(":"))
    assert context.options & ssl.OP_NO_COMPRESSION


def test_modern_profile_is_tls13_only():
    assert _server_context("modern", None).minimum_version == ssl.TLSVersion.TLSv1_3


def _handshake(port, version=None, cert=None, ca=None):
    """Connect to the server on loopback; return the negotiated version after one HTTP exchange."""
    context = ssl.create_default_context(cafile=str(ca)) if ca else ssl._create_unverified_context()
    if version:
        context.minimum_version = context.maximum_version = version
    if cert:
        context.load_cert_chain(*cert)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        # TLS 1.3 reports a refused client certificate only on the first read.
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = tls.recv(100)
        if not reply:
            raise ConnectionResetError("closed without an answer")
        return tls.version(), reply


@pytest.mark.e2e
def test_modern_server_refuses_tls12(tmp_path):
    with running_server(tmp_path, env={"API_TLS_PROFILE": "modern"}) as server:
        with pytest.raises(ssl.SSLError):
            _handshake(server.port, ssl.TLSVersion.TLSv1_2)
        assert _handshake(server.port, ssl.TLSVersion.TLSv1_3)[0] == "TLSv1.3"


@pytest.mark.e2e
def test_mutual_tls_required_admits_only_clients_of_the_ca(tmp_path):
    certs = tmp_path / "certs"
    generate(certs)
    alice = issue_client_cert(certs, "alice")
    generate(tmp_path / "other")
    mallory = issue_client_cert(tmp_path / "other", "mallory")
    with running_server(tmp_path, env={"API_TLS_CLIENT_AUTH": "required"}, client_cert=alice) as server:
        _, reply = _handshake(server.port, cert=alice, ca=certs / "ca.crt")
        assert reply.startswith(b"HTTP/1.1 200")
        for cert in (None, mallory):
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                _handshake(server.port, cert=cert, ca=certs / "ca.crt")
        assert server.process.poll() is None


@pytest.mark.e2e
def test_mutual_tls_off_by_default_needs_no_client_certificate(tmp_path):
    with running_server(tmp_path) as server:
        _, reply = _handshake(server.port, ca=server.certs / "ca.crt")
    assert reply.startswith(b"HTTP/1.1 200")


@pytest.mark.e2e
@pytest.mark.sslyze
def test_sslyze_finds_make_api_start_compliant_with_mozilla_intermediate(api_start):
    port, process = api_start.port, api_start.process
    wait_for_token(api_start.stderr, process)
    ca = ROOT / "certs" / "ca.crt"
    context = ssl.create_default_context(cafile=str(ca))
    wait_ready(f"https://localhost:{port}", context, process, api_start.stderr)
    result = subprocess.run(
        [str(SSLYZE), "--mozilla_config=intermediate", "--certinfo_ca_file", str(ca), f"localhost:{port}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout[-3000:])
    assert "could not connect" not in result.stdout.lower()
    assert f"localhost:{port}: OK - Compliant." in result.stdout
    assert result.returncode == 0
