"""The TLS folder (``certs/``): which files it holds, reusing its CA, and writing keys and certificates.

Keys are written 0600 and certificates 0644, each to a fresh file renamed into
place, in a 0700 folder. The certificates themselves are built in memory by
api/ops/certbuild.py.
"""

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from api.files import private_folder
from api.ops.certbuild import (
    CertError,
    Pair,
    can_sign,
    check_client_name,
    collect_sans,
    expires_too_soon,
    key_matches,
    new_ca,
    new_client,
    new_server,
)
from api.settings import CERTS_DIR

DEFAULT_DIR = CERTS_DIR
FILES = {"ca_cert": "ca.crt", "ca_key": "ca.key", "server_cert": "server.crt", "server_key": "server.key"}


def paths_in(out_dir: str | Path) -> dict[str, Path]:
    """Return the four file paths for an output folder."""
    return {key: Path(out_dir) / name for key, name in FILES.items()}


def generate(
    out_dir: str | Path = DEFAULT_DIR, extra_sans: Iterable[str] = (), force: bool = False
) -> dict[str, Path]:
    """Create the CA and server files that are missing (all of them with force); return their paths."""
    return generate_files(out_dir, extra_sans, force)[0]


def generate_files(
    out_dir: str | Path, extra_sans: Iterable[str], force: bool
) -> tuple[dict[str, Path], list[Path]]:
    """Do the work of generate; also return the paths actually written."""
    # Validate every name before touching the disk, so bad input never leaves partial output.
    sans = collect_sans(extra_sans)
    paths = paths_in(out_dir)
    if not force and all(path.exists() for path in paths.values()):
        return paths, []
    # 0700: it holds the keys (the certificates in it are public, and 0644).
    private_folder(Path(out_dir))
    written: list[Path] = []
    ca = None if force else load_ca(paths)
    if ca is None:
        ca = new_ca()
        written += write_pair(ca, paths["ca_cert"], paths["ca_key"])
    # Reached with a reused CA only when a server file is missing: a lone cert or key is useless,
    # so both are replaced. A new CA always gets a new server pair, as it cannot verify the old one.
    written += write_pair(new_server(ca, sans), paths["server_cert"], paths["server_key"])
    return paths, written


def load_ca(paths: dict[str, Path]) -> Pair | None:
    """Return the existing CA pair, or None if there is none."""
    cert_path, key_path = paths["ca_cert"], paths["ca_key"]
    if not cert_path.exists() and not key_path.exists():
        return None
    # Half a CA cannot be reused and silently replacing the other half would break trusting clients.
    if not (cert_path.exists() and key_path.exists()):
        raise CertError(f"incomplete CA in {cert_path.parent}: one of ca.crt/ca.key is missing; use --force")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not key_matches(cert, key):
        raise CertError(f"{key_path} does not match {cert_path}; use --force to regenerate both")
    if not can_sign(key):
        raise CertError(f"{key_path} holds a key that cannot sign certificates; use --force for a new CA")
    if expires_too_soon(cert):
        raise CertError(f"{cert_path} expires {cert.not_valid_after_utc:%Y-%m-%d}; use --force for a new CA")
    return Pair(cert, key)


def issue_client_cert(out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Issue ``clients/<name>.crt`` and ``.key`` from the existing CA in ``out_dir``; return their paths.

    For mutual TLS: a server started with ``API_TLS_CLIENT_AUTH=required`` accepts only
    clients presenting a certificate signed by this CA.
    """
    check_client_name(name)
    ca = load_ca(paths_in(out_dir))
    if ca is None:
        raise CertError(f"no CA in {out_dir}: run `make certs` first")
    clients = Path(out_dir) / "clients"
    clients.mkdir(mode=0o700, exist_ok=True)
    cert_path, key_path = clients / f"{name}.crt", clients / f"{name}.key"
    write_pair(new_client(ca, name), cert_path, key_path)
    return cert_path, key_path


def write_pair(pair: Pair, cert_path: Path, key_path: Path) -> list[Path]:
    """Write a (certificate, key) pair as PEM; return the paths written."""
    key_pem = pair.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(key_path, key_pem, 0o600)
    # Certificates are public: readable by the service user and by clients.
    _write_atomic(cert_path, pair.cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return [cert_path, key_path]


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
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
