"""The job service, Flask-free: submit, show, list, cancel or delete, result, retention.

The web layer (api/web/jobs.py) translates HTTP to these calls and back; every refusal
is an APIError with its own code and status (api/jobs/errors.py). A caller sees its own
jobs only, an admin every job; another's job is JobNotFound, exactly as one that does not
exist. The work budget is not charged here: the workers charge it as the rows are scored.
"""

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.errors import InvalidParameter
from api.jobs.errors import JobNotFinished, JobNotFound, JobsUnavailable, TooManyJobs, UnsupportedUpload
from api.jobs.files import JobFiles, valid_id
from api.jobs.jobs import FORMATS, MEDIA_TYPES, NDJSON_ALIASES, Job, OutputFormat
from api.jobs.retention import Retention
from api.jobs.schema import COLUMN_CHARS
from api.jobs.store import JobStore
from api.jobs.upload import Readable, Upload, UploadLimits, receive
from api.settings import Settings
from model.serving import artifacts

log = logging.getLogger(__name__)

# Sends a job's chunk tasks: (job id, number of chunks). api.jobs.queue.JobQueue.enqueue in the server.
Enqueue = Callable[[str, int], None]
# Charsets an upload may declare: the chunk reader decodes UTF-8 (with or without a BOM).
UTF8_CHARSETS = ("utf-8", "utf8")
# too_many_jobs's Retry-After: the soonest estimated end of the token's active jobs, within these bounds
# (seconds), or the upper one when no job has an estimate yet (queued, or no row scored).
RETRY_AFTER_MIN, RETRY_AFTER_MAX = 1, 60


@dataclass(frozen=True)
class SubmitParams:
    """A submission's options, as the query string gave them (checked by JobService.submit)."""

    model: str | None = None  # None: the server's default model
    detail: bool = True
    text_column: str = "text"
    id_column: str = "id"
    format: str | None = None  # the result's; None: the upload's own


def upload_format(content_type: str | None) -> OutputFormat:
    """Return the format a Content-Type names (CSV or NDJSON, UTF-8); else raise UnsupportedUpload."""
    media, _, parameters = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = next(
        (value.strip().strip('"').lower() for key, _, value in _pairs(parameters) if key == "charset"), None
    )
    by_type = {media_type: fmt for fmt, media_type in MEDIA_TYPES.items()}
    by_type.update(dict.fromkeys(NDJSON_ALIASES, "ndjson"))
    if media not in by_type or (charset is not None and charset not in UTF8_CHARSETS):
        accepted = ", ".join(sorted(by_type))
        raise UnsupportedUpload(f"upload a file as one of {accepted} (UTF-8), the raw file as the body")
    return by_type[media]


def _pairs(parameters: str) -> list[tuple[str, str, str]]:
    """Return a media type's ``key=value`` parameters as (lowercase key, "=", value)."""
    pairs = (part.partition("=") for part in parameters.split(";") if part.strip())
    return [(key.strip().lower(), sep, value) for key, sep, value in pairs]


class JobService:
    """The jobs of one job store and one jobs folder, sent to workers through ``enqueue``."""

    def __init__(self, settings: Settings, store: JobStore, files: JobFiles, enqueue: Enqueue) -> None:
        self.settings = settings
        self.store = store
        self.files = files
        self.enqueue = enqueue
        self.limits = UploadLimits.from_settings(settings)
        self.retention = Retention(store, files, timedelta(hours=settings.JOBS_RETENTION_HOURS))

    @classmethod
    def from_settings(cls, settings: Settings, enqueue: Enqueue) -> "JobService":
        """Return the service of ``settings``' job database and API_JOBS_DIR."""
        return cls(settings, JobStore.from_settings(settings), JobFiles(settings.JOBS_DIR), enqueue)

    def submit(
        self,
        owner: str,
        budget_key: str,
        stream: Readable,
        content_type: str | None,
        content_length: int | None,
        params: SubmitParams,
    ) -> Job:
        """Store the upload as a new job of ``owner`` and queue its chunks; return the queued job.

        Everything is checked before the body is read: the format, the options, the number
        of active jobs, a declared length and the free disk; the rest while it is read.
        """
        fmt = upload_format(content_type)
        output = self._output_format(params.format, fmt)
        self._check_columns(params)
        model, version = self._model(params.model)
        self._check_active(owner)
        job_id = uuid.uuid4().hex
        upload = Upload(job_id, fmt, params.text_column, params.id_column, content_length)
        received = receive(stream, upload, self.files, self.limits)
        created = False
        try:
            # Again: the owner's other uploads may have become jobs while this one was read.
            self._check_active(owner)
            now = datetime.now(UTC)
            job = Job(
                id=job_id,
                owner=owner,
                budget_key=budget_key,
                state="queued",
                model=model,
                model_version=version,
                input_format=fmt,
                output_format=output,
                detail=params.detail,
                text_column=params.text_column,
                id_column=params.id_column,
                rows_total=received.rows,
                rows_done=0,
                chunks_total=received.chunks,
                chunks_done=0,
                created=now,
                started=None,
                finished=None,
                expires=now + self.retention.period,
            )
            self.store.create(job)
            created = True
            self.enqueue(job.id, job.chunks_total)
        except BaseException:
            self._discard(job_id, created)
            raise
        return job

    def get(self, job_id: str, owner: str, admin: bool) -> Job:
        """Return the job, if ``owner`` may see it (an admin sees every job); else raise JobNotFound."""
        job = self.store.get(job_id) if valid_id(job_id) else None
        if job is None or not (admin or job.owner == owner):
            raise JobNotFound("no such job")
        return job

    def list(self, owner: str, admin: bool) -> list[Job]:
        """Return ``owner``'s jobs, newest first (every owner's for an admin)."""
        return self.store.list(None if admin else owner)

    def cancel_or_delete(self, job_id: str, owner: str, admin: bool) -> Job | None:
        """Cancel an active job and return it; delete a finished one (record and files) and return None."""
        job = self.get(job_id, owner, admin)
        if job.active:
            self.store.cancel(job.id)
            # Cancelled now, or finished just before: either way, as it is now (and kept).
            current = self.store.get(job.id)
            if current is None:
                raise JobNotFound("no such job")
            return current
        self.delete(job.id)
        return None

    def delete(self, job_id: str) -> None:
        """Delete a job's files, then its record (a record left by a failure is retention's)."""
        self.files.remove(job_id)
        self.store.delete(job_id)

    def result(self, job_id: str, owner: str, admin: bool) -> tuple[Path, str, str]:
        """Return a succeeded job's result as (path, media type, download name); JobNotFinished before."""
        job = self.get(job_id, owner, admin)
        if job.state != "succeeded":
            raise JobNotFinished(f"the job is {job.state}; a result exists once it has succeeded")
        path = self.files.result(job.id)
        if not path.is_file():
            raise JobNotFound("no such job")  # deleted by retention meanwhile
        return path, MEDIA_TYPES[job.output_format], f"scores-{job.id}.{job.output_format}"

    def sweep(self, now: datetime, force: bool = False) -> int:
        """Delete the jobs whose retention ended by ``now`` (at most once a minute unless ``force``)."""
        return self.retention.sweep(now, force)

    def _output_format(self, asked: str | None, upload: OutputFormat) -> OutputFormat:
        """Return the result's format: the one asked, else the upload's."""
        if asked is None:
            return upload
        for fmt in FORMATS:
            if asked == fmt:
                return fmt
        raise InvalidParameter(f"format must be one of {', '.join(FORMATS)}", key="format")

    def _check_columns(self, params: SubmitParams) -> None:
        """Raise InvalidParameter for an empty or overlong column name."""
        for key, name in (("text_column", params.text_column), ("id_column", params.id_column)):
            if not 0 < len(name) <= COLUMN_CHARS:
                raise InvalidParameter(f"{key} must have 1 to {COLUMN_CHARS} characters", key=key)

    def _model(self, asked: str | None) -> tuple[str, str]:
        """Return the (name, version) of the model asked for, or of the server's default one."""
        manifest = artifacts.read_manifest(self.settings.ARTIFACTS_DIR)
        models = manifest.get("models", {})
        name = asked or self.settings.MODEL or artifacts.default_name(manifest)
        if name not in models:
            raise InvalidParameter(f"unknown model; valid: {', '.join(sorted(models))}", key="model")
        return name, str(models[name]["version"])

    def _check_active(self, owner: str) -> None:
        """Raise TooManyJobs if ``owner`` has API_JOBS_MAX_ACTIVE jobs queued or running."""
        limit = self.settings.JOBS_MAX_ACTIVE
        if self.store.count_active(owner) >= limit:
            retry_after = self._soonest_end(owner)
            raise TooManyJobs(
                f"this token has {limit} job(s) queued or running, the most it may have;"
                f" wait for one to finish (about {retry_after} s) or cancel one",
                headers={"Retry-After": str(retry_after)},
            )

    def _soonest_end(self, owner: str) -> int:
        """Return the seconds until the first of ``owner``'s active jobs should end, within the bounds."""
        now = datetime.now(UTC)
        lefts = [job.seconds_left(now) for job in self.store.list(owner) if job.active]
        known = [left for left in lefts if left is not None]
        if not known:
            return RETRY_AFTER_MAX
        return min(RETRY_AFTER_MAX, max(RETRY_AFTER_MIN, math.ceil(min(known))))

    def _discard(self, job_id: str, created: bool) -> None:
        """Remove what a submission that failed after its upload left: the files, and the record if made."""
        self.files.remove(job_id)
        if not created:
            return
        try:
            self.store.delete(job_id)
        except JobsUnavailable:
            # The submission's own error is the one that matters; the record expires with retention.
            log.warning("job %s: record left after a failed submission; retention deletes it", job_id)
