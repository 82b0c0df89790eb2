"""Gunicorn settings: TLS termination, workers and limits. Every value can be set from the environment.

Start: ``gunicorn --config gunicorn.conf.py wsgi:app`` (``make api-start`` does it).
"""

import os
import shutil
import ssl
import sys
import tempfile
from functools import partial

from api import constants as c
from api.server import balance, children, listeners, multiproc, preload, tls
from api.settings import SettingsError, load_settings, variable_of

# Typed and checked: a bad value stops the server here, in one line naming its variable (any other
# error in this file would be a traceback of Gunicorn's "Failed to read config file").
try:
    settings = load_settings()
except SettingsError as exc:
    sys.exit(f"refusing to start: {exc}")

bind = settings.bind

# gevent, chosen by measurement on a 2-core machine (authenticated no-op over
# HTTPS with keep-alive): sync workers close every connection, so each request
# pays a TLS handshake (~220 req/s); gthread keeps connections alive (~2,900
# req/s) but a handful of idle TCP connections that never start TLS block its
# threads (Gunicorn issue #2652); gevent served ~5,300 req/s and still answered
# in 15 ms with 250 such connections open.
# The subclass bounds the TLS handshake in time (TLS_HANDSHAKE_TIMEOUT), see api/server/worker.py.
worker_class = "api.server.worker.HardenedGeventWorker"
# One worker per core. Prediction is CPU-bound Python; `make bench` on 2 cores
# with 2, 3 and 4 workers gave the same throughput within run-to-run noise
# (1000-tweet requests: 111k, 135k, 117k tweets/s), and each worker costs
# ~186 MiB resident (make bench, both models loaded), so more workers only add memory.
# Connections are shared fairly between them: see pre_fork and api/server/balance.py.
workers = settings.WORKERS
# Each connection is a greenlet; idle ones cost a few KiB, not a thread.
worker_connections = settings.WORKER_CONNECTIONS
# Keep-alive spares clients a TLS handshake per request (sync workers, which
# close every connection, managed ~220 req/s); 5 s also bounds how long a
# connection may take to send a request's line and headers.
keepalive = 5
# No preload_app: gevent must patch the standard library before the app's
# modules are imported, and preloading imports them in the master first. The
# master imports only the model code and its libraries (numpy, SciPy,
# scikit-learn, NLTK: computation, no I/O), once for every process it forks;
# frozen out of the collector's sight, their pages stay shared (api/server/preload.py).
# No runtime control socket: less to secure, and nothing written under $HOME.
control_socket_disable = True
# A request (reading its body included) must finish within this many seconds:
# a client that sends its body a byte at a time is cut off (api/server/worker.py).
timeout = settings.REQUEST_TIMEOUT
graceful_timeout = 20

# Request limits: well above any legitimate request, far below abuse.
limit_request_line = c.REQUEST_LINE_LIMIT
limit_request_fields = 50
limit_request_field_size = 8190

certfile = str(settings.TLS_CERT)
keyfile = str(settings.TLS_KEY)
# Mutual TLS, off by default: with API_TLS_CLIENT_AUTH=required only clients
# holding a certificate from API_TLS_CLIENT_CA complete the handshake.
if settings.TLS_CLIENT_AUTH == "required":
    cert_reqs = ssl.CERT_REQUIRED
    ca_certs = str(settings.TLS_CLIENT_CA)

accesslog = settings.ACCESS_LOG
errorlog = "-"
# Every line JSON, the app's included, with request ids; the access log never records query strings
# or headers (no secrets in logs), so access_log_format is not used. A failing log write is one line
# (never the request headers) and a failed reopen keeps the old file.
logger_class = "api.server.logger.HardenedLogger"
loglevel = settings.LOG_LEVEL
# Names this server's dirty arbiter's pid file (Gunicorn keeps it in the temporary folder to
# find an orphan of a crashed run): one name per address, so two servers never share it. Port 0
# (any free port) names no address: the master's pid does, or each server would kill the others'.
proc_name = "sentiment-api-" + bind.replace(":", "-") + (f"-{os.getpid()}" if settings.PORT == 0 else "")

# Processes of the whole server that Gunicorn's dirty arbiter starts, restarts if they die, and stops
# with the server, all in one dirty worker process:
# - jobs, when no broker is configured (API_JOBS_BROKER_URL empty): a job worker process, supervised by
#   api/jobs/embedded.py. First: its supervising thread is made before the history writer lowers the
#   process's priority, so the job worker gets its own (API_JOBS_EMBEDDED_NICE), not the writer's.
# - the prediction history's writer (api/history/writer.py).
JOBS_WORKER_APP = "api.jobs.embedded:EmbeddedWorker"
# Seconds the history writer may take to finish writing what it holds when the server stops...
HISTORY_STOP_SECONDS = 10
# ...after the job worker has finished its chunk (api/jobs/embedded.py's STOP_TIMEOUT, and a margin),
# all within the master's graceful_timeout (20 s).
JOBS_STOP_SECONDS = 8
dirty_apps = [JOBS_WORKER_APP] if settings.jobs_embedded else []
if settings.history_enabled:
    dirty_apps.append(c.HISTORY_WRITER_APP)
if dirty_apps:
    dirty_workers = 1
    dirty_graceful_timeout = (HISTORY_STOP_SECONDS if settings.history_enabled else 0) + (
        JOBS_STOP_SECONDS if settings.jobs_embedded else 0
    )


def ssl_context(config, default_ssl_context_factory):
    """Return Gunicorn's TLS context restricted to the API_TLS_PROFILE (see api/server/tls.py)."""
    return tls.harden(default_ssl_context_factory(), settings.TLS_PROFILE, settings.OPENSSL_CONF)


def on_starting(server):
    """Refuse to start, with one clear line, if the model artifacts are missing or altered.

    Each worker verifies them again when it loads the model; this check only
    spares the operator a traceback per worker. The model code is imported here, once, for every
    process forked from the master (api/server/preload.py); the models themselves are loaded only
    in the check's child and in the workers.
    """
    # The databases' migrations run in their child processes meanwhile (waited for below).
    migrations = children.start_migrations(settings)
    try:
        _check_before_forking(server)
    except BaseException:
        children.stop_migrations(migrations)
        raise
    # While the migrations run: Gunicorn would import these after this hook, the workers waiting.
    preload.preload_apps(dirty_apps)
    children.finish_migrations(migrations, server.log)
    _prepare_history_writer(server)
    _prepare_verified_models(server)
    if not settings.OPENSSL_CONF:
        server.log.info("OPENSSL_CONF not set: TLS key exchange limited to P-256 (see deploy/openssl.cnf)")
    # Last: nothing to clean up if a check above refused to start. Before any worker: they inherit
    # the variable, and each writes its metrics to files there (see api/server/multiproc.py).
    server.metrics_dir, server.metrics_dir_created = multiproc.prepare_multiprocess_dir()
    server.log.info("metrics of all workers in %s (%s)", server.metrics_dir, multiproc.MULTIPROC_ENV)


def on_dirty_starting(arbiter):
    """Close the HTTP listening sockets the dirty arbiter inherited (see api/server/listeners.py)."""
    listeners.close_inherited(arbiter)


def _check_before_forking(server):
    """Refuse to start, in one line, on unusable artifacts or connection caps; warn of per-worker limits."""
    # First: the check below and every process forked from here then share the model code's imports.
    preload.preload()
    problem = children.artifact_problem(settings) or children.shadow_problem(settings)
    if problem:
        server.log.error("refusing to start: %s", problem)
        sys.exit(1)
    listeners.remember_master(server)
    if settings.MAX_CONNECTIONS is not None and settings.MAX_CONNECTIONS >= worker_connections:  # noqa: SIM300
        # At the pool's size the pool could fill and the worker stop accepting (api/server/connections.py).
        server.log.error(
            "refusing to start: API_MAX_CONNECTIONS=%d must be below WORKER_CONNECTIONS=%d",
            settings.MAX_CONNECTIONS,
            worker_connections,
        )
        sys.exit(1)
    if settings.RATE_LIMIT_STORAGE.startswith("memory://") and workers > 1:
        server.log.warning(
            "API_RATE_LIMIT_STORAGE=memory:// counts per worker: with %d workers a client may get up to"
            " %d times API_RATE_LIMIT; set a redis:// storage for exact limits",
            workers,
            workers,
        )


def pre_fork(server, worker):
    """Give each worker a slot on the board that shares connections fairly (api/server/balance.py)."""
    balance.pre_fork(server, worker)


def post_worker_init(worker):
    """Start this worker's watch of the artifacts folder for new models (api/web/reload.py), and give
    it the way to leave a load balancer's rotation when it stops (api/web/health.py)."""
    # Imported here, in the worker, once its app is loaded: the master never imports the app.
    from api.web import health, reload

    reload.start(worker.wsgi)
    # The app and its models are built: what their loading freed goes back to the kernel.
    preload.trim()
    # After SIGTERM, the worker makes /readyz refuse for API_SHUTDOWN_DELAY seconds before it closes.
    worker.on_stopping = partial(health.leave_rotation, worker.wsgi)


def worker_exit(server, worker):
    """In an exiting worker: free what the master's preload froze while every module still works."""
    preload.release()


def on_reload(server):
    """SIGHUP: replace the workers only if the artifacts verify; else keep the running ones, and say why.

    Gunicorn's reload starts new workers and stops the old ones at once, and a new worker that
    cannot load its models fails to boot, which makes Gunicorn stop the whole server. So the
    artifacts are checked first, as at start-up; if they fail, no new worker is started.
    """
    problem = children.artifact_problem(settings) or children.shadow_problem(settings)
    if problem:
        server.log.error("SIGHUP refused: the running workers keep their models: %s", problem)
        # reload() starts cfg.workers new workers after this hook, then stops those beyond
        # num_workers, which this configuration already set: with none new, none is stopped.
        server.cfg.set("workers", 0)
        return
    # The new workers start from the folder as it is, as after a restart (which may add or remove a
    # model): a fresh folder for the sets they keep, not the old workers' last one.
    replaced = server.verified_models_dir
    _prepare_verified_models(server)
    shutil.rmtree(replaced, ignore_errors=True)


def child_exit(server, worker):
    """A worker exited (and will be replaced): drop its live gauges and free its connection slot.

    Its counts stay in the metrics' totals.
    """
    multiproc.worker_exited(worker.pid)
    balance.child_exit(server, worker)


def on_exit(server):
    """Remove the metrics and history writer folders this server made (unless a re-executed one has them)."""
    if server.reexec_pid:
        return
    if getattr(server, "metrics_dir_created", False):
        multiproc.remove_multiprocess_dir(server.metrics_dir)
    if getattr(server, "history_writer_dir", None):
        shutil.rmtree(server.history_writer_dir, ignore_errors=True)
    if getattr(server, "verified_models_dir", None):
        shutil.rmtree(server.verified_models_dir, ignore_errors=True)


def _prepare_verified_models(server):
    """Make the private folder where workers keep the last set of models they verified (api/web/verified.py).

    A worker that replaces one that died while the artifacts folder fails loads that set instead.
    """
    # mkdtemp: mode 0700, only this user's processes can read the copies or plant one.
    server.verified_models_dir = tempfile.mkdtemp(prefix="sentiment-api-models-")
    os.environ[variable_of("VERIFIED_MODELS_DIR")] = server.verified_models_dir


def _prepare_history_writer(server):
    """Choose the history writer's socket, in a private folder, before the writer and the workers exist.

    Both inherit the variable: the writer listens there, the workers send their history there.
    """
    if not settings.history_enabled:
        return
    # mkdtemp: mode 0700, so only this user's processes can reach the socket or forge its state file.
    server.history_writer_dir = tempfile.mkdtemp(prefix="sentiment-api-history-")
    os.environ[c.HISTORY_WRITER_SOCKET] = os.path.join(server.history_writer_dir, "writer.sock")
