"""Local TLS material: ``python -m api.ops.certs [--out DIR] [--force] [--san NAME ...]``.

Writes a private CA (``ca.crt``, ``ca.key``) and a server certificate it signs
(``server.crt``, ``server.key``). Clients trust ``ca.crt``; gunicorn serves the
server pair. Extra subject alternative names come from ``--san`` and from the
comma-separated ``API_TLS_SANS`` environment variable.
"""

import argparse
import datetime
import ipaddress
import os
import re
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.files import private_folder
from api.settings import CERTS_DIR

DEFAULT_DIR = CERTS_DIR
SANS_ENV = "API_TLS_SANS"
CA_NAME = "sentiment-api local CA"
SERVER_NAME = "localhost"
DEFAULT_SANS = ("localhost", "127.0.0.1", "::1")
# Backdate so a peer whose clock is slightly behind does not reject a brand-new certificate.
CLOCK_SKEW = datetime.timedelta(minutes=5)
CA_LIFETIME = datetime.timedelta(days=5 * 365)
# Mozilla's intermediate profile: leaf certificates must live under 366 days.
SERVER_LIFETIME = datetime.timedelta(days=365)
FILES = {"ca_cert": "ca.crt", "ca_key": "ca.key", "server_cert": "server.crt", "server_key": "server.key"}
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class CertError(Exception):
    """Certificate material cannot be generated or reused."""


class SanError(CertError, ValueError):
    """A subject alternative name is empty or malformed."""


def parse_san(value):
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


def _check_dns(name):
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


def env_sans(environ=None):
    """Return the names listed in API_TLS_SANS; an unset or blank variable means none."""
    raw = (os.environ if environ is None else environ).get(SANS_ENV, "")
    if not raw.strip():
        return []
    names = raw.split(",")
    if any(not name.strip() for name in names):
        raise SanError(f"{SANS_ENV}={raw!r} has an empty entry: expected comma-separated names")
    return [name.strip() for name in names]


def collect_sans(extra_sans=(), environ=None):
    """Return the defaults, the extra names and API_TLS_SANS as general names, without duplicates."""
    names = [*DEFAULT_SANS, *extra_sans, *env_sans(environ)]
    sans = []
    for name in names:
        san = parse_san(name)
        if san not in sans:
            sans.append(san)
    return sans


def paths_in(out_dir):
    """Return the four file paths for an output folder."""
    return {key: Path(out_dir) / name for key, name in FILES.items()}


def generate(out_dir=DEFAULT_DIR, extra_sans=(), force=False):
    """Create the CA and server files that are missing (all of them with force); return their paths."""
    return _generate(out_dir, extra_sans, force)[0]


def _generate(out_dir, extra_sans, force):
    """Do the work of generate; also return the paths actually written."""
    # Validate every name before touching the disk, so bad input never leaves partial output.
    sans = collect_sans(extra_sans)
    paths = paths_in(out_dir)
    if not force and all(path.exists() for path in paths.values()):
        return paths, []
    # 0700: it holds the keys (the certificates in it are public, and 0644).
    private_folder(Path(out_dir))
    written = []
    ca = None if force else _load_ca(paths)
    if ca is None:
        ca = _new_ca()
        written += _write_pair(ca, paths["ca_cert"], paths["ca_key"])
    # Reached with a reused CA only when a server file is missing: a lone cert or key is useless,
    # so both are replaced. A new CA always gets a new server pair, as it cannot verify the old one.
    ca_cert, ca_key = ca
    server = _new_server(ca_cert, ca_key, sans)
    written += _write_pair(server, paths["server_cert"], paths["server_key"])
    return paths, written


def _load_ca(paths):
    """Return the existing (certificate, key) CA pair, or None if there is none."""
    cert_path, key_path = paths["ca_cert"], paths["ca_key"]
    if not cert_path.exists() and not key_path.exists():
        return None
    # Half a CA cannot be reused and silently replacing the other half would break trusting clients.
    if not (cert_path.exists() and key_path.exists()):
        raise CertError(f"incomplete CA in {cert_path.parent}: one of ca.crt/ca.key is missing; use --force")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise CertError(f"{key_path} does not match {cert_path}; use --force to regenerate both")
    # A leaf must not outlive its issuer, or clients reject it once the CA expires.
    if cert.not_valid_after_utc < _now() + SERVER_LIFETIME:
        raise CertError(f"{cert_path} expires {cert.not_valid_after_utc:%Y-%m-%d}; use --force for a new CA")
    return cert, key


def _spki(public_key):
    """Return the DER SubjectPublicKeyInfo of a public key, for comparisons."""
    der = serialization.Encoding.DER
    return public_key.public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo)


def _now():
    """Return the current UTC time."""
    return datetime.datetime.now(datetime.UTC)


def _new_key():
    """Generate an ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    """Build a subject or issuer name holding only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_ca():
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
    return cert, key


def _new_server(ca_cert, ca_key, sans):
    """Create a server certificate for the given names, signed by the CA."""
    # Clients match host names against the SAN only; the CN is for humans.
    san = x509.SubjectAlternativeName(sans)
    return _new_leaf(ca_cert, ca_key, SERVER_NAME, ExtendedKeyUsageOID.SERVER_AUTH, san)


def _new_leaf(ca_cert, ca_key, common_name, usage, san=None):
    """Create a leaf certificate for one extended key usage, signed by the CA."""
    key = _new_key()
    not_before = _now() - CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def issue_client_cert(out_dir, name):
    """Issue ``clients/<name>.crt`` and ``.key`` from the existing CA in ``out_dir``; return their paths.

    For mutual TLS: a server started with ``API_TLS_CLIENT_AUTH=required`` accepts only
    clients presenting a certificate signed by this CA.
    """
    if not _CLIENT_NAME.fullmatch(name):
        raise CertError(f"invalid client name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    ca = _load_ca(paths_in(out_dir))
    if ca is None:
        raise CertError(f"no CA in {out_dir}: run `make certs` first")
    clients = Path(out_dir) / "clients"
    clients.mkdir(mode=0o700, exist_ok=True)
    cert_path, key_path = clients / f"{name}.crt", clients / f"{name}.key"
    _write_pair(_new_leaf(*ca, name, ExtendedKeyUsageOID.CLIENT_AUTH), cert_path, key_path)
    return cert_path, key_path


def _key_usage(digital_signature=False, key_cert_sign=False, crl_sign=False):
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


def _authority_key_id(ca_cert):
    """Return an AuthorityKeyIdentifier equal to the CA's own SubjectKeyIdentifier."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        # A reused CA made elsewhere may lack an SKI: derive the same value from its key.
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _write_pair(pair, cert_path, key_path):
    """Write a (certificate, key) pair as PEM; return the paths written."""
    cert, key = pair
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(key_path, key_pem, 0o600)
    # Certificates are public: readable by the service user and by clients.
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return [cert_path, key_path]


def _write_atomic(path, data, mode):
    """Write data to a new file created with the given mode, then rename it over path."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL creates a fresh inode with `mode` from the start: an existing file's looser mode never
    # carries over, there is no window before a chmod, and a planted symlink makes the open fail.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # Readers see either the old file or the complete new one, never a truncated key.
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _display(path):
    """Show a path relative to the working directory when it is inside it."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _warn_missing_sans(cert_path, extra_sans):
    """Warn when an existing server certificate lacks names that were asked for."""
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    try:
        present = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        present = []
    missing = [san.value for san in collect_sans(extra_sans) if san not in present]
    if missing:
        names = ", ".join(str(value) for value in missing)
        # Deleting only the server pair keeps the CA, so clients that trust ca.crt keep working.
        print(
            f"warning: {_display(cert_path)} lacks {names}; delete server.crt and server.key and rerun",
            file=sys.stderr,
        )


def _main_client(out_dir, name):
    """Issue one client certificate; return the exit status."""
    try:
        cert_path, key_path = issue_client_cert(out_dir, name)
    except CertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {_display(cert_path)}\nwrote {_display(key_path)}")
    print(
        f"try: curl --cacert {_display(paths_in(out_dir)['ca_cert'])} --cert {_display(cert_path)}"
        f" --key {_display(key_path)} https://localhost:5000/healthz"
    )
    return 0


def _parser():
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m api.ops.certs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="output folder (default: certs/)")
    parser.add_argument("--force", action="store_true", help="regenerate everything, including the CA")
    parser.add_argument("--client", metavar="NAME", help="issue a client certificate from the existing CA")
    parser.add_argument(
        "--san",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help=f"extra DNS name or IP address for the server certificate (also: {SANS_ENV}=a,b)",
    )
    return parser


def main(argv=None):
    """Generate the files; return the process exit status."""
    args = _parser().parse_args(argv)
    if args.client:
        return _main_client(args.out, args.client)
    try:
        paths, written = _generate(args.out, args.san, args.force)
    except SanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not written:
        print(f"certificates already exist in {_display(args.out)}; use --force to regenerate them")
        _warn_missing_sans(paths["server_cert"], args.san)
    for path in written:
        print(f"wrote {_display(path)}")
    print(f"try: curl --cacert {_display(paths['ca_cert'])} https://localhost:5000/healthz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
