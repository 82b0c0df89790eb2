"""The two job tasks, registered by name on a Celery app: sentiment.score_chunk and sentiment.finish_job.

The work is api/jobs/runner.py's; here is what Celery adds around it:

- each message is validated on receipt (api/jobs/messages.py); a malformed one is logged and dropped;
- a chunk the work budget cannot pay for now is retried when it can (``countdown``, no retry limit):
  the job stays running, and the rows already paid for are not charged again;
- a job store or job folder that fails (a database or shared folder down) is retried with a growing
  wait, up to MAX_FAULTS times; after that, or on any other error, the job fails with an error naming
  its rows and the kind of fault, and the worker goes on with other work. The log has the fault's
  kind and where it happened, never its message (which could quote a row).
"""

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from celery import Celery, Task, signals
from celery.exceptions import Retry
from kombu.exceptions import OperationalError

from api.jobs.budget import JobBudget
from api.jobs.celeryapp import FINISH_JOB, SCORE_CHUNK
from api.jobs.errors import JobsUnavailable
from api.jobs.files import JobFiles
from api.jobs.logs import current_job
from api.jobs.messages import JOB_ID_PATTERN, FinishJob, ScoreChunk, receive
from api.jobs.metrics import JobMetrics
from api.jobs.runner import ChunkRunner, Sweep
from api.jobs.store import JobStore
from api.settings import Settings

log = logging.getLogger(__name__)

# Failed tries on the store or files before the job fails: with waits of 1, 2, 4... up to
# FAULT_WAIT_MAX seconds, about 25 minutes of an outage.
MAX_FAULTS = 30
FAULT_WAIT_MAX = 60
# Faults worth trying again: the job database (JobsUnavailable), the jobs folder (OSError), the broker
# while sending the job's finish_job (OperationalError).
TRANSIENT = (JobsUnavailable, OSError, OperationalError)
_JOB_ID = re.compile(JOB_ID_PATTERN)


def build_runner(
    app: Celery,
    settings: Settings,
    store: JobStore | None = None,
    files: JobFiles | None = None,
    sweep: Sweep | None = None,
) -> ChunkRunner:
    """Return the runner of this worker process: the store, files, budget and metrics of ``settings``."""

    def send(name: str, kwargs: dict[str, object]) -> None:
        """Send a task by name on this app's broker."""
        app.send_task(name, kwargs=kwargs)

    return ChunkRunner(
        settings,
        store or JobStore.from_settings(settings),
        files or JobFiles(settings.JOBS_DIR),
        JobBudget(settings),
        JobMetrics(),
        send,
        sweep,
    )


def register(app: Celery, settings: Settings, runner: ChunkRunner | None = None) -> ChunkRunner:
    """Register both tasks on ``app``, run by ``runner`` (by default build_runner's); return the runner."""
    runner = runner or build_runner(app, settings)
    # shared=False: Celery would otherwise add the tasks to every app made later in this process
    # (tests make many), each running them with this runner.

    @app.task(name=SCORE_CHUNK, bind=True, max_retries=None, typing=False, shared=False)
    def score_chunk(task: Task, *args: Any, **kwargs: Any) -> str:
        """Score one chunk of a job (see api/jobs/runner.py)."""
        message = receive(ScoreChunk, SCORE_CHUNK, args, kwargs)
        if message is None:
            return "malformed"

        def defer(paid: int, countdown: int) -> NoReturn:
            """Try the chunk again in ``countdown`` seconds, its first ``paid`` rows paid for."""
            raise task.retry(kwargs={**message.kwargs(), "paid": paid}, countdown=countdown, max_retries=None)

        return _guarded(task, runner, message, message.index, lambda: runner.score_chunk(message, defer))

    @app.task(name=FINISH_JOB, bind=True, max_retries=None, typing=False, shared=False)
    def finish_job(task: Task, *args: Any, **kwargs: Any) -> str:
        """Assemble a job's result and mark it succeeded (see api/jobs/runner.py)."""
        message = receive(FinishJob, FINISH_JOB, args, kwargs)
        if message is None:
            return "malformed"
        return _guarded(task, runner, message, None, lambda: runner.finish_job(message))

    for task in (score_chunk, finish_job):
        signals.task_prerun.connect(_enter_job, sender=task, weak=False)
        signals.task_postrun.connect(_leave_job, sender=task, weak=False)
    return runner


def _guarded(
    task: Task,
    runner: ChunkRunner,
    message: ScoreChunk | FinishJob,
    index: int | None,
    work: Callable[[], str],
) -> str:
    """Run ``work``; retry it after a storage fault, fail the job after any other; return the outcome."""
    try:
        return work()
    except Retry:
        raise
    except TRANSIENT as exc:
        faults = message.faults + 1
        if faults <= MAX_FAULTS:
            wait = min(2 ** (faults - 1), FAULT_WAIT_MAX)
            log.warning(
                "%s failed (%s), try %d of %d in %d s", task.name, _kind(exc), faults, MAX_FAULTS, wait
            )
            raise task.retry(
                kwargs={**message.kwargs(), "faults": faults}, countdown=wait, max_retries=None
            ) from None
        _give_up(runner, message, index, f"the job's storage or broker kept failing ({_kind(exc)})")
    except Exception as exc:  # logged by kind and place (not hidden), and the job fails with it
        log.error("%s failed: %s at %s", task.name, _kind(exc), _where(exc))
        _give_up(runner, message, index, f"an internal error ({_kind(exc)}); see the worker's log")
    return "failed"


def _give_up(runner: ChunkRunner, message: ScoreChunk | FinishJob, index: int | None, reason: str) -> None:
    """Fail the message's job with ``reason``, if the job store lets us; either way the message is done."""
    try:
        runner.fail(message.job_id, index, reason)
    except TRANSIENT as exc:
        log.error("the job could not be marked failed either (%s)", _kind(exc))
    if index is not None:
        runner.metrics.chunks.labels("failed").inc()


def _kind(exc: BaseException) -> str:
    """Name an exception by its class and, for an OSError, its errno name: never its message."""
    errno = getattr(exc, "errno", None)
    return f"{type(exc).__name__} {errno}" if isinstance(exc, OSError) and errno else type(exc).__name__


def _where(exc: BaseException) -> str:
    """Return where ``exc`` was raised: the innermost frames' files, lines and functions, no values."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " < ".join(
        f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(frames)
    )


def _enter_job(task_id: str, task: Task, kwargs: dict[str, Any] | None = None, **_: Any) -> None:
    """Before a task: put its job's id on the log lines (Celery's included), if it is one."""
    job_id = (kwargs or {}).get("job_id")
    current_job.set(job_id if isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) else None)


def _leave_job(**_: Any) -> None:
    """After a task: its job's id leaves the log lines."""
    current_job.set(None)
