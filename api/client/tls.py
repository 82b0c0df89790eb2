"""TLS for the client: the server verified against a CA file (else the system's CAs), hostname checked."""

import ssl
import urllib.parse
from pathlib import Path

from api.client.errors import ClientError


def tls_context(
    cafile: Path | str | None = None, cert: Path | str | None = None, key: Path | str | None = None
) -> ssl.SSLContext:
    """Return a context that verifies the server against ``cafile`` (None: the system's CAs).

    ``cert`` and ``key``: a client certificate, for a server that requires mutual TLS. Verification
    and the hostname check are Python's defaults, never turned off here.
    """
    try:
        context = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
        if cert is not None:
            context.load_cert_chain(str(cert), None if key is None else str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"cannot load the TLS files (CA {cafile}, cert {cert}, key {key}): {exc}") from exc
    return context


def https_base(url: str) -> str:
    """Return ``url`` without its trailing slash; raise ClientError unless it is an https:// URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ClientError(f"the URL must be an https:// URL (the API is served over HTTPS only): {url}")
    if parts.query or parts.fragment or parts.username or parts.password:
        # Not repeated: it may hold a password.
        raise ClientError("the URL must be the API's base, without query, fragment or credentials")
    return url.rstrip("/")
