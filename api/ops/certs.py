"""Local TLS material: ``python -m api.ops.certs [--out DIR] [--force] [--san NAME ...]``.

Writes a private CA (``ca.crt``, ``ca.key``) and a server certificate it signs
(``server.crt``, ``server.key``). Clients trust ``ca.crt``; gunicorn serves the
server pair. Extra subject alternative names come from ``--san`` and from the
comma-separated ``API_TLS_SANS`` environment variable.

This module is the command line and the names other code imports; the
certificates are built by api/ops/certbuild.py and written by api/ops/certfiles.py.
"""

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509

from api.ops.certbuild import SANS_ENV, CertError, SanError, missing_sans
from api.ops.certfiles import DEFAULT_DIR, FILES, generate, generate_files, issue_client_cert, paths_in

# What the tests, tests/e2e.py and the Makefile's targets use, importable from here as before the split.
__all__ = [
    "DEFAULT_DIR",
    "FILES",
    "SANS_ENV",
    "CertError",
    "SanError",
    "generate",
    "issue_client_cert",
    "main",
    "paths_in",
]


def _display(path: str | Path) -> str:
    """Show a path relative to the working directory when it is inside it."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _warn_missing_sans(cert_path: Path, extra_sans: Iterable[str]) -> None:
    """Warn when an existing server certificate lacks names that were asked for."""
    missing = missing_sans(x509.load_pem_x509_certificate(cert_path.read_bytes()), extra_sans)
    if missing:
        # Deleting only the server pair keeps the CA, so clients that trust ca.crt keep working.
        print(
            f"warning: {_display(cert_path)} lacks {', '.join(missing)}; "
            "delete server.crt and server.key and rerun",
            file=sys.stderr,
        )


def _main_client(out_dir: str, name: str) -> int:
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


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    summary = (__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m api.ops.certs", description=summary)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the files; return the process exit status."""
    args = _parser().parse_args(argv)
    if args.client:
        return _main_client(args.out, args.client)
    try:
        paths, written = generate_files(args.out, args.san, args.force)
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
