"""Keys and certificates, built in memory: a private CA, and the server and client certificates it signs.

The server certificate's subject alternative names are checked here too: the
defaults, the ``--san`` names and the comma-separated ``API_TLS_SANS``
environment variable. Nothing here touches the disk (api/ops/certfiles.py does).
"""

import datetime
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple, TypeAlias, TypeGuard, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

SANS_ENV = "API_TLS_SANS"
CA_NAME = "sentiment-api local CA"
SERVER_NAME = "localhost"
DEFAULT_SANS = ("localhost", "127.0.0.1", "::1")
# Backdate so a peer whose clock is slightly behind does not reject a brand-new certificate.
CLOCK_SKEW = datetime.timedelta(minutes=5)
CA_LIFETIME = datetime.timedelta(days=5 * 365)
# Mozilla's intermediate profile: leaf certificates must live under 366 days.
SERVER_LIFETIME = datetime.timedelta(days=365)
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

SubjectAltName: TypeAlias = x509.DNSName | x509.IPAddress


class CertError(Exception):
    """Certificate material cannot be generated or reused."""


class SanError(CertError, ValueError):
    """A subject alternative name is empty or malformed."""


class Pair(NamedTuple):
    """A certificate and its private key."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes


def parse_san(value: str) -> SubjectAltName:
    """Turn one name into an IP or DNS general name, or raise SanError."""
    name = value.strip()
    if not name:
        raise SanError("empty subject alternative name")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return x509.DNSName(_check_dns(name))
    # A zone index (fe80::1%eth0) only means something on one host: it cannot go in a certificate.
    if getattr(address, "scope_id", None):
        raise SanError(f"invalid subject alternative name {value!r}: scoped IPv6 address")
    return x509.IPAddress(address)


def _check_dns(name: str) -> str:
    """Return a lower-cased DNS name, or raise SanError if it is not a valid host name."""
    lowered = name.lower()
    labels = lowered.split(".")
    valid = (
        len(lowered) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        # An all-numeric last label is a mistyped IP address (10.0.0.256), not a host name.
        and not labels[-1].isdigit()
    )
    if not valid:
        raise SanError(
            f"invalid subject alternative name {name!r}: expected an IP address or an ASCII host name "
            "(letters, digits, hyphens; dot-separated labels of at most 63 characters)"
        )
    return lowered


def env_sans(environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the names listed in API_TLS_SANS; an unset or blank variable means none."""
    raw = (os.environ if environ is None else environ).get(SANS_ENV, "")
    if not raw.strip():
        return []
    names = raw.split(",")
    if any(not name.strip() for name in names):
        raise SanError(f"{SANS_ENV}={raw!r} has an empty entry: expected comma-separated names")
    return [name.strip() for name in names]


def collect_sans(
    extra_sans: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> list[SubjectAltName]:
    """Return the defaults, the extra names and API_TLS_SANS as general names, without duplicates."""
    names = [*DEFAULT_SANS, *extra_sans, *env_sans(environ)]
    sans: list[SubjectAltName] = []
    for name in names:
        san = parse_san(name)
        if san not in sans:
            sans.append(san)
    return sans


def key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """Return True if ``key`` is the private key of ``cert``."""
    return _spki(cert.public_key()) == _spki(key.public_key())


def can_sign(key: PrivateKeyTypes) -> TypeGuard[CertificateIssuerPrivateKeyTypes]:
    """Return True if ``key`` can sign certificates (a key-agreement key such as X25519 cannot)."""
    return isinstance(key, get_args(CertificateIssuerPrivateKeyTypes))


def expires_too_soon(ca_cert: x509.Certificate) -> bool:
    """Return True if a server certificate issued now would outlive the CA ``ca_cert``."""
    # A leaf must not outlive its issuer, or clients reject it once the CA expires.
    return ca_cert.not_valid_after_utc < _now() + SERVER_LIFETIME


def check_client_name(name: str) -> str:
    """Return ``name`` if it can name a client certificate (and its files), else raise CertError."""
    if not CLIENT_NAME.fullmatch(name):
        raise CertError(f"invalid client name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    return name


def _spki(public_key: PublicKeyTypes) -> bytes:
    """Return the DER SubjectPublicKeyInfo of a public key, for comparisons."""
    der = serialization.Encoding.DER
    return public_key.public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo)


def _now() -> datetime.datetime:
    """Return the current UTC time."""
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    """Generate an ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    """Build a subject or issuer name holding only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_ca() -> Pair:
    """Create a self-signed CA certificate that may sign leaf certificates only."""
    key = _new_key()
    not_before = _now() - CLOCK_SKEW
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + CA_LIFETIME)
        # path_length=0: even a stolen CA key cannot mint intermediate CAs.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pair(cert, key)


def new_server(ca: Pair, sans: Iterable[SubjectAltName]) -> Pair:
    """Create a server certificate for the given names, signed by the CA."""
    # Clients match host names against the SAN only; the CN is for humans.
    san = x509.SubjectAlternativeName(sans)
    return new_leaf(ca, SERVER_NAME, ExtendedKeyUsageOID.SERVER_AUTH, san)


def new_client(ca: Pair, name: str) -> Pair:
    """Create a client certificate called ``name`` (for mutual TLS), signed by the CA."""
    return new_leaf(ca, check_client_name(name), ExtendedKeyUsageOID.CLIENT_AUTH)


def new_leaf(
    ca: Pair, common_name: str, usage: ObjectIdentifier, san: x509.SubjectAlternativeName | None = None
) -> Pair:
    """Create a leaf certificate for one extended key usage, signed by the CA."""
    key = _new_key()
    not_before = _now() - CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return Pair(builder.sign(ca.key, hashes.SHA256()), key)


def _key_usage(
    digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    """Build a KeyUsage extension with only the named bits set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(ca: Pair) -> x509.AuthorityKeyIdentifier:
    """Return an AuthorityKeyIdentifier equal to the CA's own SubjectKeyIdentifier."""
    try:
        ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        # A reused CA made elsewhere may lack an SKI: derive the same value from its key
        # (the certificate's: see key_matches).
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def missing_sans(cert: x509.Certificate, extra_sans: Iterable[str]) -> list[str]:
    """Return the names asked for (defaults, extra, API_TLS_SANS) that ``cert`` does not carry."""
    try:
        present = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        present = []
    return [str(san.value) for san in collect_sans(extra_sans) if san not in present]
