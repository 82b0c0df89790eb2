"""Tests for api.ops.certs: the server certificate's alternative names; invalid ones refused."""

import ipaddress

import pytest

from api.ops import certs
from tests.ops import helpers as certs_helpers
from tests.ops.helpers import load_cert, sans

# The shared fixtures, found by pytest under these names (_no_env_sans is autouse).
_no_env_sans = certs_helpers._no_env_sans
paths = certs_helpers.paths


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
