"""What a job worker does with a task, Celery aside: score one chunk, or finish a job.

Both are safe to run twice, since a task may be delivered again after a worker was killed:

- a chunk's output is written whole or not at all (JobFiles), and a chunk whose output exists is
  not scored again (nor charged again): it is only counted, and the job store counts it once;
- after every run of a chunk, whether first or repeated, the job is finished if all its chunks are
  counted: so a lost ``finish_job`` is sent again by the chunk's redelivery, and finishing twice
  finds the job finished and does nothing.

Cancellation is read from the job store before a chunk and between its parts (SUB_BATCH_ROWS rows
each): a cancelled job's running chunk stops there and writes nothing.
"""

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, NoReturn

from api.jobs.budget import JobBudget, RowTooCostly, parts
from api.jobs.celeryapp import FINISH_JOB
from api.jobs.files import JobFiles
from api.jobs.jobs import ACTIVE_STATES, Job
from api.jobs.logs import job_context
from api.jobs.messages import FinishJob, ScoreChunk
from api.jobs.metrics import JobMetrics
from api.jobs.store import JobStore
from api.settings import Settings
from api.workbudget import OverBudget, text_cost
from model.errors import ModelError
from model.scoring.output import format_rows, header

if TYPE_CHECKING:
    from model.serving import artifacts
    from model.serving.base import TweetClassifier

log = logging.getLogger(__name__)

# Longest wait before a chunk the budget could not pay for is tried again (seconds): a longer window
# (API_WORK_LIMIT per hour, say) is waited out in several tries, each far below the time RabbitMQ
# lets a worker hold an unacknowledged message (consumer_timeout, 30 minutes by default).
MAX_COUNTDOWN = 300
# Sends a task by name with keyword arguments (Celery's send_task, in a worker).
Send = Callable[[str, dict[str, object]], None]
# Puts a chunk's task back on the queue for later: (rows already paid for, seconds to wait). Raises.
Defer = Callable[[int, int], NoReturn]
# Deletes the jobs whose retention ended (JobService.sweep, at most once a minute).
Sweep = Callable[[datetime], int]


@cache
def load_model(directory: str, name: str) -> "artifacts.Loaded":
    """Return model ``name`` and its manifest entry, loaded and verified once per worker process."""
    # Imported here, on a job's first chunk: the model stack (numpy, SciPy, scikit-learn, NLTK) is
    # ~100 MiB that an idle jobs worker (the embedded one runs beside every server) need not hold.
    from model.serving import artifacts

    return artifacts.load(directory, name)


class ModelChanged(ModelError):
    """The job's model was retrained since the job was submitted: its rows would mix two versions."""


def first_row(job: Job, index: int, count: int) -> int:
    """Return the number (from 1) of the first row of chunk ``index``, which holds ``count`` rows.

    Every chunk but the last holds the same number of rows, so the chunk's own count places it.
    """
    return job.rows_total - count + 1 if index == job.chunks_total - 1 else index * count + 1


def rows_of(job: Job, index: int, count: int) -> str:
    """Return the rows chunk ``index`` of ``count`` rows holds, as a job's errors name them."""
    first = first_row(job, index, count)
    return f"rows {first}-{first + count - 1}"


class ChunkRunner:
    """The tasks of one worker process: its store, files, budget, metrics, and how it sends tasks."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        files: JobFiles,
        budget: JobBudget,
        metrics: JobMetrics,
        send: Send,
        sweep: Sweep | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.files = files
        self.budget = budget
        self.metrics = metrics
        self.send = send
        self.sweep = sweep

    def score_chunk(self, message: ScoreChunk, defer: Defer) -> str:
        """Score one chunk, count it, and finish its job if it was the last; return the outcome."""
        job = self.store.get(message.job_id)
        if job is None or not job.active:
            return self._outcome("skipped")
        with job_context(job.id):
            began = time.monotonic()
            self.store.start(job.id)
            ids, texts = self.files.read_chunk_input(job.id, message.index)
            outcome = "repeated"
            if not self.files.chunk_output(job.id, message.index).exists():
                outcome = self._score(job, message, ids, texts, defer)
                if outcome != "scored":
                    return self._outcome(outcome)
                self.metrics.chunk_seconds.observe(time.monotonic() - began)
            if self.store.chunk_done(job.id, message.index, len(ids)):
                self.metrics.rows.inc(len(ids))
            self._finish_if_done(job.id)
            return self._outcome(outcome)

    def finish_job(self, message: FinishJob) -> str:
        """Assemble the job's result from its chunks, in order, and mark it succeeded; return the outcome."""
        job = self.store.get(message.job_id)
        if job is None or not job.active or job.chunks_done < job.chunks_total:
            return "skipped"  # gone, finished, cancelled, or sent early: a later chunk sends it again
        with job_context(job.id):
            self.files.assemble(job.id, job.chunks_total, header(job.output_format, job.detail))
            if self.store.finish(job.id, "succeeded"):
                log.info("job succeeded: %d rows in %d chunks", job.rows_total, job.chunks_total)
        if self.sweep is not None:
            self.sweep(datetime.now(UTC))
        return "finished"

    def fail(self, job_id: str, index: int | None, reason: str) -> None:
        """Fail the job, its error naming the chunk's rows (when known) and ``reason`` (never a row)."""
        job = self.store.get(job_id)
        if job is None or not job.active:
            return
        where = f"chunk {index + 1} of {job.chunks_total}" if index is not None else "finishing"
        if index is not None:
            # If the input is gone or unreadable, the chunk's number names it.
            with contextlib.suppress(OSError, ValueError):
                where = rows_of(job, index, len(self.files.read_chunk_input(job_id, index)[0]))
        with job_context(job_id):
            log.error("job failed: %s: %s", where, reason)
            self.store.finish(job_id, "failed", error=f"{where}: {reason}")

    def _score(self, job: Job, message: ScoreChunk, ids: list[str], texts: list[str], defer: Defer) -> str:
        """Score the chunk part by part, paying for each; write its output; return the outcome."""
        try:
            model = self._model(job)
            pieces = list(parts(texts, self.budget.amount))
        except ModelChanged as exc:
            self.fail(job.id, message.index, str(exc))
            return "failed"
        except ModelError as exc:
            log.error("model %r unusable: %s", job.model, exc)  # the operator's log: paths and hashes
            self.fail(
                job.id, message.index, f"the model {job.model!r} could not be loaded; see the worker's log"
            )
            return "failed"
        except RowTooCostly as exc:
            row = first_row(job, message.index, len(ids)) + exc.row
            self.fail(
                job.id,
                message.index,
                f"row {row} costs {exc.cost} work units (characters), more than the whole work budget"
                f" of {self.budget.item}: no window can pay for it",
            )
            return "failed"
        log_odds: list[float] = []
        for piece in pieces:
            if self.store.state(job.id) not in ACTIVE_STATES:
                log.info("chunk %d stopped: the job was cancelled", message.index)
                return "cancelled"
            if piece.end > message.paid:  # rows before ``paid`` were paid for before a retry
                unpaid = (
                    piece.cost if piece.start >= message.paid else text_cost(texts[message.paid : piece.end])
                )
                self._pay(job, message, unpaid, piece.start, defer)
            log_odds += model.log_odds(texts[piece.start : piece.end])
        self.files.write_chunk_output(
            job.id, message.index, format_rows(job.output_format, job.detail, ids, log_odds)
        )
        return "scored"

    def _pay(self, job: Job, message: ScoreChunk, cost: int, start: int, defer: Defer) -> None:
        """Charge the job's token ``cost``, or defer the chunk (from row ``start``) to when it can pay."""
        try:
            self.budget.charge(job.budget_key, cost)
        except OverBudget as over:
            wait = min(over.retry_after, MAX_COUNTDOWN)
            log.info("chunk %d waits %d s for the work budget (from its row %d)", message.index, wait, start)
            self._outcome("deferred")
            defer(start, wait)

    def _model(self, job: Job) -> "TweetClassifier":
        """Return the job's model at the version it was submitted for, or raise ModelError."""
        directory = str(self.settings.ARTIFACTS_DIR)
        model, entry = load_model(directory, job.model)
        if entry.get("version") != job.model_version:
            load_model.cache_clear()  # retrained since this worker loaded it: read the artifacts again
            model, entry = load_model(directory, job.model)
        if entry.get("version") != job.model_version:
            raise ModelChanged(
                f"the model {job.model!r} is now version {entry.get('version')}; the job was submitted"
                f" for {job.model_version}: submit it again"
            )
        return model

    def _finish_if_done(self, job_id: str) -> None:
        """Send finish_job if every chunk is counted (again after a redelivery: finishing is idempotent)."""
        job = self.store.get(job_id)
        if job is not None and job.active and job.chunks_done >= job.chunks_total:
            self.send(FINISH_JOB, FinishJob(job_id=job_id).kwargs())

    def _outcome(self, outcome: str) -> str:
        """Count a chunk task's outcome; return it."""
        self.metrics.chunks.labels(outcome).inc()
        return outcome
