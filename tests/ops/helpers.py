"""Shared fixtures and helpers of the api.ops.certs tests (tests/ops/test_certs_*.py)."""

import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from api.ops import certs

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
