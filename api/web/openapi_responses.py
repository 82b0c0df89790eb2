"""The OpenAPI document's reusable error responses and headers, from the errors and limits themselves.

Codes come from our errors' classes and api/web/errors.py's refusals, numbers from the settings:
nothing here restates one.
"""

from dataclasses import dataclass

from flask_limiter import HeaderNames
from pydantic.json_schema import JsonSchemaValue

from api import constants as c
from api.errors import (
    APIError,
    HistoryDisabled,
    HistoryUnavailable,
    InvalidBody,
    InvalidItem,
    InvalidJSON,
    InvalidParameter,
    MalformedBody,
    TooManyItems,
    UnknownPrediction,
    UnsupportedMediaType,
)
from api.jobs.errors import (
    BadUpload,
    InsufficientStorage,
    JobNotFinished,
    JobNotFound,
    JobsUnavailable,
    QueueUnavailable,
    TooManyJobs,
    TooManyRows,
    UnsupportedUpload,
    UploadTooLarge,
)
from api.settings import HISTORY_OFF, Settings
from api.web.budget import HEADER_LIMIT, HEADER_REMAINING, WorkLimitExceeded, WorkTooLarge
from api.web.errors import NOT_READY, RATE_LIMITED, UNAUTHORIZED, Refusal
from api.web.fairness import TooManyInFlight
from api.web.identity import MODEL_HEADER, SEPARATOR, VERSION_HEADER
from api.web.jobshapes import JOB_URL

JSON = dict[str, object]


def json_content(schema: JsonSchemaValue) -> JSON:
    """Wrap a schema as an application/json content map."""
    return {"application/json": {"schema": schema}}


def refusals(*errors: type[APIError]) -> tuple[Refusal, ...]:
    """Return the refusals our errors' classes answer with."""
    return tuple(Refusal.of(error) for error in errors)


def _header(description: str, pattern: str | None = None, required: bool = False) -> JSON:
    """Return a header object of a string header."""
    schema: JSON = {"type": "string"} if pattern is None else {"type": "string", "pattern": pattern}
    header: JSON = {"description": description, "schema": schema}
    return {"required": True, **header} if required else header


def rate_headers() -> dict[str, JSON]:
    """Return flask-limiter's headers, on every answer it limits."""
    return {
        HeaderNames.LIMIT.value: _header("Requests allowed in the current window."),
        HeaderNames.REMAINING.value: _header("Requests left in the window."),
        HeaderNames.RESET.value: _header("When the window resets (Unix time)."),
    }


def _retry_headers(required: bool = True) -> dict[str, JSON]:
    """Return the headers of a 429: when to retry (``required``: on every one), and the request limit's."""
    retry = _header("Seconds to wait before retrying.", "^[0-9]+$", required=required)
    return {HeaderNames.RETRY_AFTER.value: retry, **rate_headers()}


def location_header() -> dict[str, JSON]:
    """Return the header of a created job: where it is."""
    return {"Location": _header("The job's URL: /api/v1/jobs/{id}.", JOB_URL, required=True)}


def download_headers() -> dict[str, JSON]:
    """Return the header of a job's result: a file to save, named after the job."""
    named = _header("An attachment named {job_id}.csv or {job_id}.ndjson.", "^attachment; ", True)
    return {"Content-Disposition": named}


def identity_headers() -> dict[str, JSON]:
    """Return the headers naming the models that answered a predict (api/web/identity.py)."""
    joined = f"with ?model=all, every model, joined by '{SEPARATOR}' in the order of each answer's keys"
    return {
        MODEL_HEADER: _header(f"The model that answered; {joined}.", required=True),
        VERSION_HEADER: _header(f"Its version (as in /api/v1/models); {joined}.", required=True),
    }


def work_headers() -> dict[str, JSON]:
    """Return the work budget's headers (api/web/budget.py), on every predict answer."""
    return {
        HEADER_LIMIT: _header(
            "Work units (characters x models) of the token's budget in a window.", "^[0-9]+$"
        ),
        HEADER_REMAINING: _header("Work units left in the window.", "^[0-9]+$"),
    }


@dataclass(frozen=True)
class ErrorAnswer:
    """A reusable error response: the refusals it stands for, what they mean, and its headers."""

    description: str
    refusals: tuple[Refusal, ...]
    headers: dict[str, JSON] | None = None

    @property
    def status(self) -> int:
        """Return the one status of its refusals."""
        (status,) = {refusal.status for refusal in self.refusals}  # one response object per status
        return status

    def response(self, error: JsonSchemaValue) -> JSON:
        """Return the response object: the ``error`` schema narrowed to this status and its codes."""
        codes = [refusal.code for refusal in self.refusals]
        fields = {"status": {"const": self.status}, "code": {"enum": codes}}
        narrowed = {"properties": {"error": {"properties": fields}}}
        content = json_content({"allOf": [error, narrowed]})
        response: JSON = {"description": self.description, "content": content}
        if self.headers:
            response["headers"] = self.headers
        return response


def error_answers(settings: Settings) -> dict[str, ErrorAnswer]:
    """Return the reusable error responses, by name: one per kind of refusal an operation can meet."""
    too_large = Refusal.of_status(413)  # werkzeug's, past MAX_CONTENT_LENGTH
    return {
        "InvalidRequest": ErrorAnswer(
            "The body is not UTF-8 JSON, not an object of id -> tweet text, or breaks a limit; its chunked "
            "framing is broken; or a query parameter is unknown or has a wrong value. `key` names the key or "
            "parameter at fault.",
            refusals(InvalidJSON, InvalidBody, InvalidItem, TooManyItems, InvalidParameter, MalformedBody),
        ),
        "Unauthorized": ErrorAnswer(
            "Missing, malformed, wrong or revoked bearer token.",
            (UNAUTHORIZED,),
            {"WWW-Authenticate": _header("The scheme to authenticate with.", "^Bearer", required=True)},
        ),
        "Forbidden": ErrorAnswer(
            "The token is valid but has no admin flag: this route is for admin tokens only.",
            (Refusal.of_status(403),),
        ),
        "TooLarge": ErrorAnswer(f"The body is over {settings.MAX_BODY_BYTES} bytes.", (too_large,)),
        "UnsupportedMediaType": ErrorAnswer(
            "`Content-Type` is not `application/json` (UTF-8).", refusals(UnsupportedMediaType)
        ),
        "RateLimited": ErrorAnswer(
            "Over the request limit of this token (or of this client address, before authentication).",
            (RATE_LIMITED,),
            _retry_headers(),
        ),
        "PredictLimited": ErrorAnswer(
            "Over the request limit, over the work budget (characters x models a window; "
            f"`{settings.WORK_LIMIT}`), or with {settings.MAX_IN_FLIGHT} requests of this token "
            "already being served by this worker. `Retry-After` says when it would fit.",
            (RATE_LIMITED, *refusals(WorkLimitExceeded, TooManyInFlight)),
            _retry_headers(),
        ),
        "PredictTooLarge": ErrorAnswer(
            f"The body is over {settings.MAX_BODY_BYTES} bytes, or the request costs more work than a "
            f"whole window of the budget (`{settings.WORK_LIMIT}`): split it.",
            (too_large, *refusals(WorkTooLarge)),
        ),
        "NotReady": ErrorAnswer("The model is not loaded yet.", (NOT_READY,)),
        "UriTooLong": ErrorAnswer(
            f"The request line (path and query) is over {c.REQUEST_LINE_LIMIT} bytes.",
            (Refusal.of_status(414),),  # Gunicorn's
        ),
        "HistoryDisabled": ErrorAnswer(
            f"This server keeps no prediction history (`API_HISTORY_URL={HISTORY_OFF}`).",
            refusals(HistoryDisabled),
        ),
        "HistoryUnavailable": ErrorAnswer(
            "The prediction history database does not answer; retry later.", refusals(HistoryUnavailable)
        ),
        "FeedbackNotFound": ErrorAnswer(
            f"This server keeps no prediction history (`API_HISTORY_URL={HISTORY_OFF}`), or an id the"
            " caller's token has no stored prediction of (`key` names it): predictions are stored"
            " asynchronously, tens of milliseconds after their answer, so retry shortly; nothing of the"
            " request was recorded.",
            refusals(HistoryDisabled, UnknownPrediction),
        ),
        **_job_answers(settings),
    }


def _job_answers(settings: Settings) -> dict[str, ErrorAnswer]:
    """Return the error responses of the job API (api/web/jobs.py)."""
    return {
        "InvalidUpload": ErrorAnswer(
            "A query parameter is unknown or has a wrong value (`key` names it); the file cannot be read as "
            "the CSV or NDJSON it claims to be (the message names the row, never its text); or its chunked "
            "framing is broken.",
            refusals(InvalidParameter, BadUpload, MalformedBody),
        ),
        "UploadTooLarge": ErrorAnswer(
            f"The file is over {settings.JOBS_MAX_UPLOAD_BYTES} bytes, or has over {settings.JOBS_MAX_ROWS} "
            "rows.",
            refusals(UploadTooLarge, TooManyRows),
        ),
        "UnsupportedUpload": ErrorAnswer(
            "`Content-Type` is neither `text/csv` nor `application/x-ndjson` (or `application/jsonl`), "
            "or names a charset other than UTF-8.",
            refusals(UnsupportedUpload),
        ),
        "SubmitLimited": ErrorAnswer(
            "Over the request limit (`Retry-After` says when it resets), or the token already has "
            f"{settings.JOBS_MAX_ACTIVE} jobs queued or running: wait for one to finish, or cancel one.",
            (RATE_LIMITED, *refusals(TooManyJobs)),
            _retry_headers(required=False),
        ),
        "InsufficientStorage": ErrorAnswer(
            f"Storing the file would leave less than {settings.JOBS_MIN_FREE_BYTES} bytes free on the "
            "server's job disk; retry later.",
            refusals(InsufficientStorage),
        ),
        "JobNotFound": ErrorAnswer(
            "No such job, or another token's (the two answer alike), or it was deleted: jobs are kept "
            f"{settings.JOBS_RETENTION_HOURS:g} hours.",
            (*refusals(JobNotFound), Refusal.of_status(404)),
        ),
        "JobNotFinished": ErrorAnswer(
            "The job has not succeeded (yet): it has no result.", refusals(JobNotFinished)
        ),
        "JobsUnavailable": ErrorAnswer(
            "The job database does not answer; retry later.", refusals(JobsUnavailable)
        ),
        "SubmitUnavailable": ErrorAnswer(
            "The job database, or the job queue's broker, does not answer: nothing was kept; retry later.",
            refusals(JobsUnavailable, QueueUnavailable),
        ),
    }
