"""README "TLS" and OPENSSL_CONF claims that no other test checked: the six TLS 1.2 suites by name, and key
exchange on X25519, P-256 and P-384 only with deploy/openssl.cnf, on P-256 alone without it.

Each probe is a TLS 1.3 Python client in a process of its own whose OpenSSL configuration offers one
group only.
"""

import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from api.ops.certs import generate
from api.server.tls import harden
from tests.e2e import running_server

# Mozilla's intermediate profile, TLS 1.2: the six ECDHE suites with AES-GCM or ChaCha20-Poly1305.
SIX_SUITES = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
}
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
# TLS 1.3 only: in TLS 1.2 the groups a client offers also bound the curve of the server's ECDSA
# certificate, so a client offering one group other than P-256 is refused whatever the key exchange
# allows (sslyze's scan covers TLS 1.2: test_sslyze_finds_make_api_start_compliant_with_mozilla_intermediate).
VERSION = "TLSv1_3"
# Groups a client may offer: the three the profile allows, and two it does not.
GROUPS = ("X25519", "P-256", "P-384", "P-521", "X448")
CLIENT_CONF = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_configuration
[ssl_configuration]
system_default = tls_defaults
[tls_defaults]
Groups = {group}
"""
# Handshake with the server at argv[1], pinned to TLS version argv[2]; exit 0 once it has answered.
CLIENT = """
import socket, ssl, sys
context = ssl._create_unverified_context()
context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
    with context.wrap_socket(raw) as tls:
        tls.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")
        assert tls.recv(2), "closed without an answer"
"""


def handshakes(port, group, tmp_path):
    """Return whether a TLS 1.3 client offering only ``group`` completes a handshake on ``port``."""
    conf = tmp_path / f"client-{group}.cnf"
    conf.write_text(CLIENT_CONF.format(group=group))
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(port), VERSION],
        env={"OPENSSL_CONF": str(conf), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 or "SSL" in result.stderr, result.stderr  # refused in the handshake
    return result.returncode == 0


def test_the_tls12_suites_are_the_six_ecdhe_aead_ones():
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), "intermediate", "/x")
    assert {cipher["name"] for cipher in context.get_ciphers()} == SIX_SUITES | TLS13_SUITES


@pytest.mark.e2e
def test_with_openssl_conf_key_exchange_is_x25519_p256_or_p384_only(tmp_path):
    with running_server(tmp_path, workers=1) as server:
        offered = {group: handshakes(server.port, group, tmp_path) for group in GROUPS}
    assert offered == {"X25519": True, "P-256": True, "P-384": True, "P-521": False, "X448": False}


@pytest.fixture
def bare_server(tmp_path):
    """A TLS server on loopback with the project's context and no OPENSSL_CONF; yields its port."""
    paths = generate(tmp_path / "certs")
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), "intermediate", None)
    context.load_cert_chain(paths["server_cert"], paths["server_key"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def serve():
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(100)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            except (ssl.SSLError, OSError):
                pass  # a refused handshake: what some probes are for

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(10)
    listener.close()


def test_without_openssl_conf_key_exchange_is_p256_alone(bare_server, tmp_path):
    offered = {group: handshakes(bare_server, group, tmp_path) for group in GROUPS}
    assert offered == {"X25519": False, "P-256": True, "P-384": False, "P-521": False, "X448": False}
