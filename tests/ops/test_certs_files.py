"""Tests for api.ops.certs: the files written, their modes and keys, and when they are rewritten."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from api.ops import certs
from tests.ops import helpers as certs_helpers
from tests.ops.helpers import CERTS, KEYS, current_umask, load_cert, load_key, sans, snapshot

# The shared fixtures, found by pytest under these names (_no_env_sans is autouse).
_no_env_sans = certs_helpers._no_env_sans
paths = certs_helpers.paths


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
