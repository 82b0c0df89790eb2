"""Gunicorn settings of the bare reference (bench/bare.py): the server's own, less what is about our app.

Read from gunicorn.conf.py itself, so that the two cannot drift apart: the same worker class
(gevent, TLS handshake in the worker, connection balance), worker count, connections, keep-alive,
timeouts, request limits, certificate and TLS profile. Left out: the hooks that check and prepare
our app (models, databases, metrics folder, history writer, jobs), its dirty workers and its logs.
"""

import runpy
from pathlib import Path

from model.paths import PROJECT_ROOT

SERVER_CONF = Path(PROJECT_ROOT) / "gunicorn.conf.py"
# gunicorn.conf.py's names that describe the server rather than our app.
SHARED = (
    "bind",
    "worker_class",
    "workers",
    "worker_connections",
    "keepalive",
    "timeout",
    "graceful_timeout",
    "limit_request_line",
    "limit_request_fields",
    "limit_request_field_size",
    "certfile",
    "keyfile",
    "ssl_context",
    "pre_fork",
    "child_exit",
    "control_socket_disable",
    "errorlog",
    "loglevel",
)

_server = runpy.run_path(str(SERVER_CONF))
globals().update({name: _server[name] for name in SHARED if name in _server})
proc_name = "sentiment-api-bare"
