"""Server TLS settings: Mozilla's "intermediate" profile by default, "modern" (TLS 1.3 only) on request."""

import ssl
from typing import Literal

Profile = Literal["intermediate", "modern"]
PROFILES: dict[Profile, ssl.TLSVersion] = {
    "intermediate": ssl.TLSVersion.TLSv1_2,
    "modern": ssl.TLSVersion.TLSv1_3,
}

# TLS 1.2 suites of Mozilla's intermediate profile: forward secret and AEAD only.
# (TLS 1.3 suites are all AEAD and are not set through this string.)
TLS12_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)


def harden(
    context: ssl.SSLContext, profile: Profile = "intermediate", openssl_conf: str | None = None
) -> ssl.SSLContext:
    """Restrict a server context to the profile's protocols, ciphers and key-exchange groups.

    ``openssl_conf`` is the OPENSSL_CONF the process runs with (Settings.OPENSSL_CONF), if any.
    """
    context.minimum_version = PROFILES[profile]
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    # Python 3.11 cannot set a list of groups; deploy/openssl.cnf (OPENSSL_CONF)
    # allows X25519, P-256 and P-384. Without it, fall back to P-256 alone: still
    # compliant, at the cost of a retry round trip for clients that lead with X25519.
    if not openssl_conf:
        context.set_ecdh_curve("prime256v1")
    return context
