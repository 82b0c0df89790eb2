"""The OpenAPI 3.1 document of the API: its operations, over the shapes of api/web/shapes.py.

Nothing here restates a shape, a limit or an error code: shapes and limits come from the
declarations and the settings, codes from the errors (api/web/openapi_responses.py).
"""

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from api.errors import code_for
from api.jobs.jobs import MEDIA_TYPES, NDJSON_ALIASES
from api.settings import Settings
from api.web import feedbackshapes, jobshapes, shapes
from api.web.jsonschema import components, query_parameters
from api.web.openapi_responses import (
    JSON,
    download_headers,
    error_answers,
    identity_headers,
    json_content,
    location_header,
    rate_headers,
    work_headers,
)

# A file, as a request or answer body: bytes of one of the job formats (api/web/jobshapes.py).
FILE_SCHEMA: JSON = {"type": "string", "format": "binary"}
DOWNLOAD = (
    "The result: `id,label,score` CSV (`id,label` without detail) or NDJSON, in the upload's order, the same"
    " bytes as `python -m model score` writes for the same file and options."
)
JOB_ID_PARAMETER: JSON = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id, as its submission answered.",
    "schema": {"type": "string", "pattern": jobshapes.JOB_ID},
}


def _files(media_types: tuple[str, ...], examples: Mapping[str, str] | None = None) -> JSON:
    """Return a content map of a file in any of ``media_types``, with its example if ``examples`` has one."""
    shown = examples or {}
    return {
        media: {"schema": FILE_SCHEMA, **({"example": shown[media]} if media in shown else {})}
        for media in media_types
    }


def _ref(name: str) -> JSON:
    """Return a $ref to a reusable response."""
    return {"$ref": f"#/components/responses/{name}"}


@dataclass(frozen=True)
class Operation:
    """One operation of the API: its path, what it answers, and which error responses it can give."""

    path: str
    method: str
    operation_id: str
    summary: str
    answer: type[BaseModel] | None  # None: a file (``download``)
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

    @property
    def path_parameters(self) -> list[JSON]:
        """Return the parameters of the path's own: the job's id."""
        return [JOB_ID_PARAMETER] if "{job_id}" in self.path else []


def _operations(
    app: shapes.Shapes, submit_query: type[BaseModel], feedback_body: type[BaseModel]
) -> list[Operation]:
    """Return the operations: predictions, feedback, jobs, model information, this document and the probes."""
    return [
        *_predict_operations(app),
        *_feedback_operations(feedback_body),
        *_job_operations(submit_query),
        *_public_operations(app),
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


class _Document:
    """One build of the document: the schemas its operations refer to, and its error responses."""

    def __init__(self, settings: Settings, app_shapes: shapes.Shapes, submit_query: type[BaseModel]) -> None:
        feedback_body = feedbackshapes.feedback_body(shapes.TweetLimits.of(settings))
        self.operations = _operations(app_shapes, submit_query, feedback_body)
        answers = [op.answer for op in self.operations if op.answer is not None]
        bodies = [op.body for op in self.operations if op.body is not None]
        self.refs, self.schemas = components([*answers, *bodies, shapes.Error])
        self.errors = error_answers(settings)

    def operation(self, op: Operation) -> JSON:
        """Return the OpenAPI operation object of ``op``."""
        operation: JSON = {"operationId": op.operation_id, "summary": op.summary}
        if op.secured:
            operation["security"] = [{"bearerAuth": []}]
        parameters = [*op.path_parameters, *(query_parameters(op.query) if op.query is not None else [])]
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": json_content(self.refs[op.body])}
        if op.files:
            operation["requestBody"] = {
                "required": True,
                "content": _files(op.files, jobshapes.UPLOAD_EXAMPLES),
            }
        gone = {"204": {"description": "The finished job was deleted.", "headers": rate_headers()}}
        errors = {str(self.errors[name].status): _ref(name) for name in op.errors}
        operation["responses"] = {str(op.status): self.ok(op), **(gone if op.deleted else {}), **errors}
        return operation

    def ok(self, op: Operation) -> JSON:
        """Return the success response of ``op``, described by its answer's docstring (or as a file)."""
        headers = {**(rate_headers() if op.limited else {}), **(work_headers() if op.charged else {})}
        headers |= identity_headers() if op.identified else {}
        if op.answer is None:
            ok: JSON = {"description": DOWNLOAD, "content": _files(op.download)}
            headers |= download_headers()
        else:
            ok = {"description": inspect.getdoc(op.answer), "content": json_content(self.refs[op.answer])}
        if op.created:
            headers |= location_header()
        if headers:
            ok["headers"] = headers
        return ok

    def paths(self) -> JSON:
        """Return the paths, each with its operations."""
        paths: dict[str, JSON] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method] = self.operation(op)
        return dict(paths)

    def build(self) -> JSON:
        """Return the whole document."""
        error = self.refs[shapes.Error]
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Sentiment API",
                "version": "1.0.0",
                "description": (
                    "Labels tweets Positive or Negative. Every error is JSON of one shape (`Error`). "
                    f"An unknown path answers 404 `{code_for(404)}`; a method a path does not have answers "
                    f"405 `{code_for(405)}` with `Allow`."
                ),
            },
            "paths": self.paths(),
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A token from `make token`.",
                    }
                },
                "schemas": self.schemas,
                "responses": {name: answer.response(error) for name, answer in self.errors.items()},
            },
        }


def build_spec(settings: Settings, models: Sequence[str]) -> JSON:
    """Return the OpenAPI 3.1 document, as a dict, for an app with ``settings`` serving ``models``."""
    declared = shapes.declare(shapes.TweetLimits.of(settings), models)
    return _Document(settings, declared, jobshapes.submit_query(models)).build()
