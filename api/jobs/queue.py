"""What the API sees of the job queue: sending a job's chunks, the broker's state, the messages waiting.

The API sends tasks by name (``send_task``) and imports no task code: the workers alone load models.
The broker's state (/readyz) and the queue's depth (/metrics) are read over a connection of their
own with a short timeout, kept a few seconds so that probes and scrapes do not each reach the
broker, and never raise: a broker that is down is reported, not thrown. No URL or message here
carries the broker's password.
"""

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

from api.jobs import fsnames
from api.jobs.celeryapp import SCORE_CHUNK, broker_folders, broker_kind, embedded_folders, make_celery
from api.jobs.errors import QueueUnavailable
from api.jobs.messages import ScoreChunk
from api.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

# Seconds a check may take to reach the broker, and how long its answer is kept.
CHECK_TIMEOUT = 1.0
CHECK_TTL = 5.0
# An error named in /readyz is cut to this: a line, not a page.
MAX_ERROR_CHARS = 200


class BrokerState(TypedDict):
    """The broker as /readyz reports it."""

    broker: str
    ok: bool
    error: str | None


class JobQueue:
    """One process's handle on the job queue of ``settings`` (the API's, a test's).

    On the embedded broker its Celery app is built when first needed: /readyz and /metrics read the
    broker's folder, and only sending a job's chunks needs Celery and kombu (~8 MiB a process).
    """

    def __init__(
        self, settings: Settings, app: "Celery | None" = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._app = app
        self.kind = broker_kind(settings)
        self._clock = clock
        self._kept: dict[str, tuple[float, Any]] = {}
        password = urlsplit(settings.JOBS_BROKER_URL.strip()).password if not settings.jobs_embedded else None
        self._secret = password or None
        self._listed: tuple[type[BaseException], ...] | None = None
        if settings.jobs_embedded:
            # As building the app did: /readyz finds the folders before any job is sent.
            embedded_folders(settings)
        else:
            self._errors  # noqa: B018  # a broker URL Celery cannot use fails here, as it did

    @property
    def app(self) -> "Celery":
        """Return the Celery app that sends the tasks, built at its first use."""
        if self._app is None:
            self._app = make_celery(self.settings)
        return self._app

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        """What reaching the broker can raise: kombu's errors, OSError and those its client library lists."""
        if self._listed is None:
            from kombu.exceptions import KombuError

            # py-amqp's and redis' own errors, as this app's connection lists them (it connects to nothing).
            with self.app.connection_for_write() as connection:
                listed = tuple(connection.connection_errors) + tuple(connection.channel_errors)
            self._listed = (KombuError, OSError, *listed)
        return self._listed

    def enqueue(self, job_id: str, chunks: int) -> None:
        """Send the tasks of chunks 0 to ``chunks - 1`` of job ``job_id``; QueueUnavailable if it cannot."""
        try:
            with self.app.producer_or_acquire() as producer:
                for index in range(chunks):
                    message = ScoreChunk(job_id=job_id, index=index)
                    self.app.send_task(SCORE_CHUNK, kwargs=message.kwargs(), producer=producer)
        except self._errors as exc:
            log.warning("job queue: sending failed: %s", self._describe(exc))
            raise QueueUnavailable(f"the job queue ({self.kind}) does not answer; retry later") from exc

    def broker_state(self) -> BrokerState:
        """Return the broker's kind and whether it answers (why not, if not); kept CHECK_TTL seconds."""
        state: BrokerState = self._kept_or("state", self._check)
        return state

    def depth(self) -> int | None:
        """Return the messages waiting in the queue (not those being worked on); None if it cannot be read."""
        depth: int | None = self._kept_or("depth", self._count)
        return depth

    def _check(self) -> BrokerState:
        """Reach the broker now."""
        if self.kind == "embedded":
            folder = broker_folders(self.settings)["queue"]
            usable = folder.is_dir() and os.access(folder, os.R_OK | os.W_OK | os.X_OK)
            error = None if usable else "the embedded broker's folder is missing or not writable"
            return {"broker": self.kind, "ok": usable, "error": error}
        try:
            with self._connection() as conn:
                conn.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT
                )
        except self._errors as exc:
            return {"broker": self.kind, "ok": False, "error": self._describe(exc)}
        return {"broker": self.kind, "ok": True, "error": None}

    def _count(self) -> int | None:
        """Count the messages waiting now."""
        name = self.settings.JOBS_QUEUE
        if self.kind == "embedded":
            try:
                return fsnames.count(broker_folders(self.settings)["queue"], name)
            except OSError:
                return None
        try:
            with self._connection() as conn:
                conn.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT
                )
                _, waiting, _ = conn.default_channel.queue_declare(name, passive=True)
                return int(waiting)
        except self._errors as exc:
            if "NOT_FOUND" in str(exc):
                return 0  # not declared yet: no worker started and nothing sent
            log.warning("job queue: depth not read: %s", self._describe(exc))
            return None

    def _connection(self) -> Any:
        """Return a new connection to the broker that gives up after CHECK_TIMEOUT seconds."""
        timeouts = {"socket_timeout": CHECK_TIMEOUT, "socket_connect_timeout": CHECK_TIMEOUT}
        options = timeouts if self.kind == "redis" else {}
        return self.app.connection_for_read(connect_timeout=CHECK_TIMEOUT, transport_options=options)

    def _kept_or(self, key: str, compute: Callable[[], Any]) -> Any:
        """Return the value kept under ``key`` if younger than CHECK_TTL, else ``compute()``'s, kept."""
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < CHECK_TTL:
            return kept[1]
        value = compute()
        self._kept[key] = (now, value)
        return value

    def _describe(self, exc: BaseException) -> str:
        """Return ``exc``'s kind and message, the broker's password masked, cut to a line."""
        text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        if self._secret:
            text = text.replace(self._secret, "**")
        return text[:MAX_ERROR_CHARS]
