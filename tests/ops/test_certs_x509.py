"""Tests for api.ops.certs: the CA and server certificates' signatures, extensions and validity."""

import datetime

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.ops import certs
from tests.ops import helpers as certs_helpers
from tests.ops.helpers import (
    ext,
    load_cert,
)

# The shared fixtures, found by pytest under these names (_no_env_sans is autouse).
_no_env_sans = certs_helpers._no_env_sans
paths = certs_helpers.paths


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
