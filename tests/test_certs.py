"""Tests for api.certs: local CA and server certificate generation."""

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api import certs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KEYS = ("ca_key", "server_key")
CERTS = ("ca_cert", "server_cert")


@pytest.fixture(autouse=True)
def _no_env_sans(monkeypatch):
    """Keep the developer's API_TLS_SANS out of every test."""
    monkeypatch.delenv(certs.SANS_ENV, raising=False)


@pytest.fixture
def paths(tmp_path):
    """Generate a fresh set of files and return their paths."""
    return certs.generate(tmp_path / "certs")


def load_cert(path):
    """Load a PEM certificate."""
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_key(path):
    """Load an unencrypted PEM private key."""
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def ext(cert, cls):
    """Return one extension of a certificate (value and criticality)."""
    return cert.extensions.get_extension_for_class(cls)


def sans(cert):
    """Return the (DNS names, IP addresses) of a certificate's SAN extension."""
    value = ext(cert, x509.SubjectAlternativeName).value
    return value.get_values_for_type(x509.DNSName), value.get_values_for_type(x509.IPAddress)


def snapshot(paths):
    """Return the bytes of every generated file."""
    return {key: path.read_bytes() for key, path in paths.items()}


def current_umask():
    """Return the process umask without changing it for long."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_generate_writes_four_files(paths, tmp_path):
    assert {path.name for path in paths.values()} == {"ca.crt", "ca.key", "server.crt", "server.key"}
    assert all(path.parent == tmp_path / "certs" and path.is_file() for path in paths.values())
    # Temporary files from the atomic writes must not linger.
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == sorted(certs.FILES.values())


def test_key_files_are_private_and_certs_public(paths):
    for key in KEYS:
        assert paths[key].stat().st_mode & 0o777 == 0o600, key
    for key in CERTS:
        assert paths[key].stat().st_mode & 0o777 == 0o644 & ~current_umask(), key


def test_force_rewrite_does_not_inherit_a_loose_mode(paths):
    paths["server_key"].chmod(0o644)
    paths["ca_key"].chmod(0o666)
    certs.generate(paths["ca_key"].parent, force=True)
    for key in KEYS:
        assert paths[key].stat().st_mode & 0o777 == 0o600, key


@pytest.mark.parametrize("which", ["ca", "server"])
def test_keys_are_unencrypted_pkcs8_p256_matching_the_cert(paths, which):
    pem = paths[f"{which}_key"].read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS8, not "EC PRIVATE KEY" or encrypted
    key = load_key(paths[f"{which}_key"])
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert load_cert(paths[f"{which}_cert"]).public_key() == key.public_key()


def test_server_cert_is_signed_by_the_ca(paths):
    ca, server = load_cert(paths["ca_cert"]), load_cert(paths["server_cert"])
    server.verify_directly_issued_by(ca)
    assert server.issuer == ca.subject
    assert isinstance(server.signature_hash_algorithm, hashes.SHA256)


def test_server_cert_is_not_signed_by_another_ca(paths, tmp_path):
    other = certs.generate(tmp_path / "other")
    with pytest.raises(InvalidSignature):
        load_cert(paths["server_cert"]).verify_directly_issued_by(load_cert(other["ca_cert"]))


def test_ca_flags(paths):
    ca = load_cert(paths["ca_cert"])
    ca.verify_directly_issued_by(ca)  # self-signed
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sentiment-api local CA"
    basic = ext(ca, x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = ext(ca, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)


def test_ca_validity_is_five_years_backdated(paths):
    ca = load_cert(paths["ca_cert"])
    now = datetime.datetime.now(datetime.UTC)
    minutes = datetime.timedelta(minutes=1)
    assert now - 10 * minutes < ca.not_valid_before_utc < now - 4 * minutes
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == datetime.timedelta(days=5 * 365)


def test_server_extensions(paths):
    ca, server = load_cert(paths["ca_cert"]), load_cert(paths["server_cert"])
    assert server.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    basic = ext(server, x509.BasicConstraints)
    assert basic.critical and not basic.value.ca
    usage = ext(server, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_cert_sign and not usage.value.crl_sign
    assert list(ext(server, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ca_ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ext(server, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski.digest
    server_ski = ext(server, x509.SubjectKeyIdentifier).value
    assert server_ski == x509.SubjectKeyIdentifier.from_public_key(server.public_key())
    assert server.serial_number != ca.serial_number


def test_server_validity_is_under_366_days(paths):
    server = load_cert(paths["server_cert"])
    now = datetime.datetime.now(datetime.UTC)
    assert server.not_valid_before_utc < now < server.not_valid_after_utc
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert datetime.timedelta(days=364) < lifetime < datetime.timedelta(days=366)


def test_default_sans(paths):
    dns, ips = sans(load_cert(paths["server_cert"]))
    assert dns == ["localhost"]
    assert ips == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]


def test_extra_sans_from_env_and_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv(certs.SANS_ENV, " API.Example.test , 10.0.0.5,localhost")
    paths = certs.generate(tmp_path, extra_sans=("sentiment.internal", "2001:db8::1"))
    dns, ips = sans(load_cert(paths["server_cert"]))
    # Names are lower-cased and duplicates (localhost) dropped.
    assert dns == ["localhost", "sentiment.internal", "api.example.test"]
    assert ips == [ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "2001:db8::1", "10.0.0.5")]


def test_blank_env_adds_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(certs.SANS_ENV, "  ")
    dns, ips = sans(load_cert(certs.generate(tmp_path)["server_cert"]))
    assert dns == ["localhost"] and len(ips) == 2


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "bad name",
        "-lead.example",
        "trail-.example",
        "exa_mple.com",
        "a..b",
        ".example",
        "example.",
        "x" * 64 + ".com",
        "10.0.0.256",
        "1.2.3",
        "[::1]",
        "fe80::1%eth0",
        "bücher.example",
    ],
)
def test_invalid_san_argument_is_rejected_before_writing(tmp_path, name):
    with pytest.raises(ValueError, match="subject alternative name"):
        certs.generate(tmp_path / "certs", extra_sans=(name,))
    assert not (tmp_path / "certs").exists()


@pytest.mark.parametrize("value", ["good.example,,other.example", "good.example,", "bad name"])
def test_invalid_env_sans_are_rejected(tmp_path, monkeypatch, value):
    monkeypatch.setenv(certs.SANS_ENV, value)
    with pytest.raises(certs.SanError):
        certs.generate(tmp_path / "certs")
    assert not (tmp_path / "certs").exists()


def test_san_error_is_a_value_error():
    assert issubclass(certs.SanError, ValueError)


def test_second_run_without_force_changes_nothing(paths):
    before = snapshot(paths)
    again = certs.generate(paths["ca_cert"].parent)
    assert again == paths
    assert snapshot(paths) == before


def test_force_regenerates_everything(paths):
    before = snapshot(paths)
    certs.generate(paths["ca_cert"].parent, force=True)
    after = snapshot(paths)
    assert all(after[key] != before[key] for key in paths)
    load_cert(paths["server_cert"]).verify_directly_issued_by(load_cert(paths["ca_cert"]))


@pytest.mark.parametrize("missing", [("server_cert", "server_key"), ("server_key",), ("server_cert",)])
def test_missing_server_files_reuse_the_ca(paths, missing):
    before = snapshot(paths)
    for key in missing:
        paths[key].unlink()
    certs.generate(paths["ca_cert"].parent, extra_sans=("added.example",))
    after = snapshot(paths)
    assert after["ca_cert"] == before["ca_cert"] and after["ca_key"] == before["ca_key"]
    # Both server files are replaced, so the key always matches the certificate.
    assert after["server_cert"] != before["server_cert"] and after["server_key"] != before["server_key"]
    server = load_cert(paths["server_cert"])
    server.verify_directly_issued_by(load_cert(paths["ca_cert"]))
    assert server.public_key() == load_key(paths["server_key"]).public_key()
    assert "added.example" in sans(server)[0]


@pytest.mark.parametrize("missing", ["ca_cert", "ca_key"])
def test_incomplete_ca_is_refused_without_force(paths, missing):
    paths[missing].unlink()
    with pytest.raises(certs.CertError, match="incomplete CA"):
        certs.generate(paths["ca_cert"].parent)
    certs.generate(paths["ca_cert"].parent, force=True)
    load_cert(paths["server_cert"]).verify_directly_issued_by(load_cert(paths["ca_cert"]))


def test_mismatched_ca_key_is_refused(paths, tmp_path):
    other = certs.generate(tmp_path / "other")
    paths["ca_key"].write_bytes(other["ca_key"].read_bytes())
    paths["server_key"].unlink()
    with pytest.raises(certs.CertError, match="does not match"):
        certs.generate(paths["ca_cert"].parent)


def test_cli_reports_existing_files_and_hint(tmp_path, capsys):
    out = tmp_path / "certs"
    assert certs.main(["--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert first.count("wrote ") == 4
    assert f"curl --cacert {out / 'ca.crt'} https://localhost:5000/healthz" in first
    assert certs.main(["--out", str(out), "--san", "new.example"]) == 0
    second = capsys.readouterr()
    assert "already exist" in second.out and "wrote" not in second.out
    assert "lacks new.example" in second.err


def test_cli_invalid_san_exits_2_with_one_line(tmp_path, capsys):
    assert certs.main(["--out", str(tmp_path / "certs"), "--san", "ok.example", "bad name"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "certs").exists()


def test_module_runs_as_script(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != certs.SANS_ENV}
    env[certs.SANS_ENV] = "from-env.example"
    result = subprocess.run(
        [sys.executable, "-m", "api.certs", "--out", str(tmp_path), "--san", "a.example", "b.example"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "https://localhost:5000/healthz" in result.stdout
    dns, _ = sans(load_cert(tmp_path / "server.crt"))
    assert dns == ["localhost", "a.example", "b.example", "from-env.example"]


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
