"""The job API: whole CSV or NDJSON files scored by job workers (api/jobs/), behind the bearer token.

The views translate HTTP only; the JobService (api/jobs/service.py) checks, stores and queues. A
token sees its own jobs (an admin token every job); another token's job answers 404, as one that
never existed. The upload is the raw body, streamed into chunk files as it arrives; the result is
streamed from its file. Log lines carry the request id and the job id, never a row's text.
"""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file

from api import constants as c
from api import security
from api.errors import APIError, InvalidParameter
from api.jobs.errors import JobNotFound, JobsUnavailable
from api.jobs.jobs import JOBS_PATH, Job
from api.jobs.service import JobService, SubmitParams
from api.settings import Settings, settings_of
from api.web import extensions as ext
from api.web import metrics
from api.web.auth import auth, current_user, is_admin
from api.web.jobshapes import DEFAULT_DETAIL, DEFAULTS, SUBMIT_PARAMETERS
from api.web.limits import rate_limit_key
from api.web.shapes import BOOLEANS
from api.web.validation import abandon_body, framing_errors

log = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/api/v1")


class Queue(Protocol):
    """What the API asks of the job queue (api/jobs/queue.py): send a job's chunks, and how the broker is."""

    def enqueue(self, job_id: str, chunks: int) -> None:
        """Send the tasks of a job's ``chunks`` chunks."""

    def broker_state(self) -> Mapping[str, object]:
        """Return {"broker", "ok", "error"} for /readyz, without raising."""

    def depth(self) -> int | None:
        """Return the tasks waiting on the broker, or None if it does not say."""


@dataclass(frozen=True)
class Jobs:
    """One app's job service, and the queue it sends to."""

    service: JobService
    queue: Queue
    embedded: bool


JOBS: ext.Key[Jobs] = ext.Key(c.EXT_JOBS)


def make_queue(settings: Settings) -> Queue:
    """Return the job queue of ``settings``: the embedded broker, or API_JOBS_BROKER_URL's."""
    # Imported here: Celery and kombu load only in apps that build a queue.
    from api.jobs.queue import JobQueue

    return JobQueue(settings)


def init_app(app: Flask) -> None:
    """Give ``app`` its job service and queue, and publish the jobs' metrics."""
    settings = settings_of(app)
    queue = make_queue(settings)
    service = JobService.from_settings(settings, queue.enqueue)
    JOBS.put(app, Jobs(service, queue, settings.jobs_embedded))
    metrics.watch_jobs(app, service.store.counts_by_state, queue.depth)


def state(app: Flask) -> dict[str, Any]:
    """Describe the job queue's broker for /readyz."""
    jobs = JOBS.of(app)
    return {**jobs.queue.broker_state(), "embedded": jobs.embedded}


def _now() -> datetime:
    """Return the time now, aware UTC."""
    return datetime.now(UTC)


def _service() -> JobService:
    """Return the app's job service, after deleting the expired jobs (at most once a minute)."""
    service = JOBS.of(current_app).service
    try:
        swept = service.sweep(_now())
    except JobsUnavailable:
        log.warning("retention sweep skipped: the job database does not answer")
    else:
        if swept:
            log.info("retention: %d expired job(s) deleted", swept)
    return service


class _Body:
    """The request body, opened at its first read: after the service checked its declared length.

    Werkzeug refuses a Content-Length over request.max_content_length as the stream is opened,
    with its own 413; opened later, such a body meets the job's own limit first (413 upload_too_large).
    """

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes of the body."""
        stream: IO[bytes] = request.stream
        return stream.read(size)


@bp.post("/jobs")
@auth.login_required
def submit() -> Response:
    """Store the uploaded file as a new job and queue it: 202 with its JSON and Location."""
    settings = settings_of(current_app)
    # The job's limit, not the app's body cap; one byte over it, so that a body of exactly the limit can
    # be read to its end (werkzeug's stream refuses a read at its limit) and one past it is refused by
    # the upload's own count (api/jobs/upload.py), in its own words.
    request.max_content_length = settings.JOBS_MAX_UPLOAD_BYTES + 1
    params = _submit_params()
    service, caller = _service(), current_user()
    try:
        with framing_errors():
            job = service.submit(
                caller, rate_limit_key(), _Body(), request.content_type, request.content_length, params
            )
    except APIError:
        # Refused before its end: the rest of the body (up to the limit) is not worth reading.
        abandon_body(request)
        raise
    log.info(
        "job submitted: %d rows in %d chunks", job.rows_total, job.chunks_total, extra={"job_id": job.id}
    )
    response = _job_response(job)
    response.status_code = 202
    response.headers["Location"] = f"{JOBS_PATH}/{job.id}"
    return response


def _submit_params() -> SubmitParams:
    """Return the options the query string asks for, or raise InvalidParameter."""
    unknown = sorted(set(request.args) - set(SUBMIT_PARAMETERS))
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter; accepted: {', '.join(SUBMIT_PARAMETERS)}", key=unknown[0]
        )
    detail = request.args.get("detail", DEFAULT_DETAIL)
    if detail not in BOOLEANS:
        raise InvalidParameter("detail must be true or false", key="detail")
    model, served = request.args.get("model"), ext.MODEL.of(current_app).infos
    if model is not None and model not in served:
        # Checked here too: the service would take an empty name for the default model.
        raise InvalidParameter(f"unknown model; valid: {', '.join(served)}", key="model")
    return SubmitParams(
        model=model,
        detail=BOOLEANS[detail],
        text_column=request.args.get("text_column", DEFAULTS.text_column),
        id_column=request.args.get("id_column", DEFAULTS.id_column),
        format=request.args.get("format"),
    )


@bp.get("/jobs")
@auth.login_required
def list_jobs() -> Response:
    """List the caller's jobs, newest first (every caller's for an admin token)."""
    caller, now = current_user(), _now()
    jobs = _service().list(caller, is_admin(caller))
    return jsonify(jobs=[job.to_json(now) for job in jobs])


@bp.get("/jobs/<job_id>")
@auth.login_required
def get_job(job_id: str) -> Response:
    """Show one job: its state, progress and errors."""
    return _job_response(_service().get(job_id, *_caller()))


@bp.delete("/jobs/<job_id>")
@auth.login_required
def cancel_job(job_id: str) -> Response:
    """Cancel an active job (200, its JSON), or delete a finished one with its files (204)."""
    job = _service().cancel_or_delete(job_id, *_caller())
    if job is None:
        log.info("job deleted", extra={"job_id": job_id})
        return Response(status=204)
    log.info("job cancelled at %d of %d rows", job.rows_done, job.rows_total, extra={"job_id": job.id})
    return _job_response(job)


@bp.get("/jobs/<job_id>/result")
@auth.login_required
def job_result(job_id: str) -> Response:
    """Stream a succeeded job's result as a file to save."""
    path, mimetype, name = _service().result(job_id, *_caller())
    try:
        # Opened here, not by send_file: a result the retention sweep just deleted is a 404, not a 500.
        handle = open(path, "rb")  # noqa: SIM115 - the response closes it once sent
    except FileNotFoundError as exc:
        raise JobNotFound("no such job") from exc
    response = send_file(handle, mimetype=mimetype, as_attachment=True, download_name=name, etag=False)
    response.content_length = os.fstat(handle.fileno()).st_size
    # send_file's "no-cache" lets a cache keep the scores; they are personal data, as every answer is.
    response.headers["Cache-Control"] = security.HEADERS["Cache-Control"]
    log.info("job result sent", extra={"job_id": job_id})
    return response


def _caller() -> tuple[str, bool]:
    """Return the caller's token name and whether it sees every job."""
    caller = current_user()
    return caller, is_admin(caller)


def _job_response(job: Job) -> Response:
    """Return a job's JSON."""
    return jsonify(job.to_json(_now()))
