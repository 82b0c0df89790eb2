"""The Celery app of the jobs, from a factory: the API sends tasks with it, the workers run them.

No module-level app: each process builds its own from its settings (tests build many). The
configuration makes a task safe to run twice and never lost:

- ``task_acks_late`` with ``worker_prefetch_multiplier=1``: a message is acknowledged after its task
  ran, so a worker killed mid-chunk leaves it to the broker, which gives it to another worker; each
  worker holds one message at a time, so a killed worker delays one chunk, not a batch;
- ``task_reject_on_worker_lost``: the same when the worker process is lost rather than the task failing;
- JSON only (no pickle): a message is data, never code;
- no result backend: a chunk's result is its output file and its row in the job store.

Broker: ``JOBS_BROKER_URL`` as given (``amqp://`` for RabbitMQ, ``redis://``); empty, the embedded
default: the private filesystem transport of api/jobs/fsbroker.py under ``JOBS_DIR/.broker``.

Celery and kombu are imported by the functions that need them: an HTTP worker on the embedded broker
reads the broker's kind and folders here, and builds an app only to send a job's chunks (~8 MiB).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.files import private_folder
from api.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

# Task names: the API sends by name (send_task), so it imports no task code.
SCORE_CHUNK = "sentiment.score_chunk"
FINISH_JOB = "sentiment.finish_job"
TASK_NAMES = (SCORE_CHUNK, FINISH_JOB)
# A host named, or kombu warns that it supplies one.
EMBEDDED_URL = "filesystem://localhost/"
EMBEDDED_TRANSPORT = "api.jobs.fsbroker:Transport"
# Under JOBS_DIR: hex job ids never start with a dot, so no job folder can take these names.
BROKER_FOLDER = ".broker"
# The embedded broker checks its folder this often when it is empty (seconds): a job's first chunk
# starts within it, at a few directory listings a second.
EMBEDDED_POLL = 0.1
# Seconds to reach the broker: a broker that is down must fail a submission fast, not hang it.
CONNECT_TIMEOUT = 3.0
# Sending a task: one retry, half a second later, then the error goes to the caller.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}


def broker_kind(settings: Settings) -> str:
    """Return the broker's kind as /readyz names it: "embedded", "amqp" or "redis" (the URL's scheme)."""
    if settings.jobs_embedded:
        return "embedded"
    scheme = settings.JOBS_BROKER_URL.strip().partition("://")[0].lower()
    if scheme in ("redis", "rediss"):
        return "redis"
    return "amqp" if scheme in ("amqp", "amqps", "pyamqp") else scheme


def broker_folders(settings: Settings) -> dict[str, Path]:
    """Return the embedded broker's folders: its queue, its exchange tables and its consumers' claims."""
    root = Path(settings.JOBS_DIR) / BROKER_FOLDER
    return {"queue": root / "queue", "control": root / "control", "claims": root / "claims"}


def embedded_folders(settings: Settings) -> dict[str, Path]:
    """Make the embedded broker's folders (0700) if they are missing; return them as broker_folders does."""
    return {key: private_folder(path) for key, path in broker_folders(settings).items()}


def safe_broker_url(settings: Settings) -> str:
    """Return the broker's URL with its password masked, fit for a log line."""
    if settings.jobs_embedded:
        return f"embedded (files in {broker_folders(settings)['queue']})"
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(settings.JOBS_BROKER_URL.strip()))


def make_celery(settings: Settings) -> "Celery":
    """Return a Celery app for ``settings``, configured as this module's docstring says; no tasks yet."""
    from celery import Celery

    app = Celery("sentiment-jobs", set_as_current=False)
    app.conf.update(_config(settings))
    return app


def _config(settings: Settings) -> dict[str, Any]:
    """Return the Celery settings for ``settings``."""
    from kombu import Exchange, Queue

    from api.jobs import fsbroker

    name = settings.JOBS_QUEUE
    queue = Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)
    config: dict[str, Any] = {
        "broker_url": settings.JOBS_BROKER_URL.strip() or EMBEDDED_URL,
        "broker_connection_timeout": CONNECT_TIMEOUT,
        "broker_connection_retry_on_startup": True,
        "task_publish_retry_policy": PUBLISH_RETRY,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "result_backend": None,
        "task_queues": [queue],
        "task_default_queue": name,
        "task_default_exchange": name,
        "task_default_routing_key": name,
        "task_routes": {task: {"queue": name, "routing_key": name} for task in TASK_NAMES},
        # A lost connection would return the running chunk to the broker anyway: stop it, not run it twice.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # No broadcast control channel: nobody can tell a worker to stop or change through the broker.
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        # The worker's logging is set up by api/jobs/worker.py (JSON lines), not by Celery.
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }
    if settings.jobs_embedded:
        folders = embedded_folders(settings)
        config["broker_transport"] = EMBEDDED_TRANSPORT
        config["broker_transport_options"] = {
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "control_folder": str(folders["control"]),
            fsbroker.CLAIM_FOLDER: str(folders["claims"]),
            "store_processed": False,
            "polling_interval": EMBEDDED_POLL,
        }
    return config
