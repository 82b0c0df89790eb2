"""The operations of the OpenAPI document (api/web/openapi.py): each route, its answer, its errors.

Nothing here restates a shape, a limit or an error code: the shapes are api/web/*shapes.py's, the
error responses are named as api/web/openapi_responses.py builds them.
"""

from dataclasses import dataclass

from pydantic import BaseModel

from api.jobs.jobs import MEDIA_TYPES, NDJSON_ALIASES
from api.web import feedbackshapes, jobshapes, shapes
from api.web.metrics import CONTENT_TYPE as METRICS_TYPE
from api.web.openapi_responses import JSON

HTML = "text/html"

JOB_ID_PARAMETER: JSON = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id, as its submission answered.",
    "schema": {"type": "string", "pattern": jobshapes.JOB_ID},
}


@dataclass(frozen=True)
class Operation:
    """One operation of the API: its path, what it answers, and which error responses it can give."""

    path: str
    method: str
    operation_id: str
    summary: str
    answer: type[BaseModel] | None  # None: a file (``download``) or a text (``text``)
    errors: tuple[str, ...]
    secured: bool = True  # behind a bearer token
    limited: bool = True  # counted by the rate limiter, so its answers carry the limiter's headers
    charged: bool = False  # spends the work budget (api/web/budget.py), so its answers carry its headers
    identified: bool = False  # answered by models, named in its success's headers (api/web/identity.py)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200  # of success
    files: tuple[str, ...] = ()  # media types of a file body (a job's upload), instead of ``body``
    download: tuple[str, ...] = ()  # media types of a file answer (a job's result), instead of ``answer``
    created: bool = False  # success carries Location: where the new job is
    deleted: bool = False  # success may also be a 204 without a body
    text: str | None = None  # media type of a text answer (a web page, the metrics), instead of ``answer``

    @property
    def path_parameters(self) -> list[JSON]:
        """Return the parameters of the path's own: the job's id."""
        return [JOB_ID_PARAMETER] if "{job_id}" in self.path else []


def operations(
    app: shapes.Shapes, submit_query: type[BaseModel], feedback_body: type[BaseModel]
) -> list[Operation]:
    """Return the operations: predictions, feedback, jobs, model information, this document and the probes."""
    return [
        *_predict_operations(app),
        *_feedback_operations(feedback_body),
        *_job_operations(submit_query),
        *_public_operations(app),
        *_page_operations(),
    ]


def _feedback_operations(body: type[BaseModel]) -> list[Operation]:
    """Return the operations of feedback and live accuracy (api/web/feedback.py)."""
    history = ("UriTooLong", "HistoryUnavailable")
    return [
        Operation(
            "/api/v1/feedback",
            "post",
            "sendFeedback",
            "Record the true labels of tweets the caller's token scored (all or nothing)",
            feedbackshapes.Recorded,
            (
                "InvalidRequest",
                "Unauthorized",
                "RateLimited",
                "TooLarge",
                "UnsupportedMediaType",
                "FeedbackNotFound",
                *history,
            ),
            body=body,
        ),
        Operation(
            "/api/v1/feedback",
            "get",
            "liveAccuracy",
            "Live accuracy per model and version, from the feedback",
            feedbackshapes.LiveAccuracy,
            ("InvalidRequest", "Unauthorized", "RateLimited", "HistoryDisabled", *history),
        ),
    ]


def _predict_operations(app: shapes.Shapes) -> list[Operation]:
    """Return the operations of predictions and model information."""
    limited = ("Unauthorized", "RateLimited")
    return [
        Operation(
            "/api/v1/predict",
            "post",
            "predict",
            "Label tweets Positive or Negative",
            app.answers,
            (
                "InvalidRequest",
                "Unauthorized",
                "PredictLimited",
                "PredictTooLarge",
                "UriTooLong",
                "UnsupportedMediaType",
            ),
            query=app.predict_query,
            body=app.tweets,
            charged=True,
            identified=True,
        ),
        Operation(
            "/api/v1/predictions",
            "get",
            "listPredictions",
            "The caller's stored predictions, newest first (all callers' for an admin)",
            shapes.Predictions,
            ("InvalidRequest", *limited, "HistoryDisabled", "UriTooLong", "HistoryUnavailable"),
            query=shapes.PredictionsQuery,
        ),
        Operation("/api/v1/model", "get", "modelInfo", "Describe the served model", app.model_info, limited),
        Operation(
            "/api/v1/models",
            "get",
            "listModels",
            "List the served models with their held-out metrics",
            app.models,
            limited,
        ),
    ]


def _job_operations(submit_query: type[BaseModel]) -> list[Operation]:
    """Return the operations of the job API (api/web/jobs.py)."""
    job = ("Unauthorized", "JobNotFound", "RateLimited", "UriTooLong", "JobsUnavailable")
    formats = tuple(MEDIA_TYPES.values())
    upload_errors = ("InvalidUpload", "Unauthorized", "UploadTooLarge", "UriTooLong", "UnsupportedUpload")
    return [
        Operation(
            "/api/v1/jobs",
            "post",
            "submitJob",
            "Score a whole CSV or NDJSON file: the body is the file, streamed (202: queued)",
            jobshapes.Job,
            (*upload_errors, "SubmitLimited", "SubmitUnavailable", "InsufficientStorage"),
            query=submit_query,
            status=202,
            files=(*formats, *NDJSON_ALIASES),
            created=True,
        ),
        Operation(
            "/api/v1/jobs",
            "get",
            "listJobs",
            "The caller's jobs, newest first (all callers' for an admin)",
            jobshapes.Jobs,
            ("Unauthorized", "RateLimited", "UriTooLong", "JobsUnavailable"),
        ),
        Operation("/api/v1/jobs/{job_id}", "get", "getJob", "A job's state and progress", jobshapes.Job, job),
        Operation(
            "/api/v1/jobs/{job_id}",
            "delete",
            "cancelJob",
            "Cancel an active job (200, its JSON); delete a finished one, files and all (204)",
            jobshapes.Job,
            job,
            deleted=True,
        ),
        Operation(
            "/api/v1/jobs/{job_id}/result",
            "get",
            "getJobResult",
            "Download a succeeded job's result, streamed, in input order",
            None,
            (*job, "JobNotFinished"),
            download=formats,
        ),
    ]


def _public_operations(app: shapes.Shapes) -> list[Operation]:
    """Return the operations without a token: this document and the probes."""
    return [
        Operation(
            "/api/v1/openapi.json",
            "get",
            "openapi",
            "This document",
            shapes.Document,
            ("RateLimited",),
            secured=False,
        ),
        Operation(
            "/healthz",
            "get",
            "healthz",
            "Liveness: the process answers (no auth, no rate limit)",
            shapes.Alive,
            (),
            secured=False,
            limited=False,
        ),
        Operation(
            "/readyz",
            "get",
            "readyz",
            "Readiness: the model is loaded and verified (no auth, no rate limit)",
            app.ready,
            ("NotReady",),
            secured=False,
            limited=False,
        ),
    ]


def _page_operations() -> list[Operation]:
    """Return the routes that answer text, not JSON: the web pages (pages.py, swagger.py) and the metrics."""
    pages = [
        ("/", "indexPage", "Web page: label pasted tweets, score a file as a job"),
        ("/history", "historyPage", "Web page: the caller's recent predictions, newest first"),
        ("/docs", "docsPage", "Web page: this document, browsable; Authorize with a token, then Try it out"),
    ]
    return [
        *(
            Operation(path, "get", name, summary, None, ("RateLimited",), secured=False, text=HTML)
            for path, name, summary in pages
        ),
        Operation(
            "/metrics",
            "get",
            "metrics",
            "Prometheus text format, every worker's counts summed (admin tokens only)",
            None,
            ("Unauthorized", "Forbidden", "RateLimited"),
            text=METRICS_TYPE.split(";")[0],
        ),
    ]
