"""The OpenAPI 3.1 document of the API: its operations, over the shapes of api/web/shapes.py.

Nothing here restates a shape, a limit or an error code: shapes and limits come from the
declarations and the settings, codes from the errors (api/web/openapi_responses.py).
"""

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from api.errors import code_for
from api.settings import Settings
from api.web import shapes
from api.web.jsonschema import components, query_parameters
from api.web.openapi_responses import JSON, error_answers, json_content, rate_headers, work_headers


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
    answer: type[BaseModel]
    errors: tuple[str, ...]
    secured: bool = True  # behind a bearer token
    limited: bool = True  # counted by the rate limiter, so its answers carry the limiter's headers
    charged: bool = False  # spends the work budget (api/web/budget.py), so its answers carry its headers
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None


def _operations(app: shapes.Shapes) -> list[Operation]:
    """Return the operations: predictions, model information, this document and the probes."""
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

    def __init__(self, settings: Settings, app_shapes: shapes.Shapes) -> None:
        self.operations = _operations(app_shapes)
        self.refs, self.schemas = components(
            [*(op.answer for op in self.operations), app_shapes.tweets, shapes.Error]
        )
        self.errors = error_answers(settings)

    def operation(self, op: Operation) -> JSON:
        """Return the OpenAPI operation object of ``op``."""
        operation: JSON = {"operationId": op.operation_id, "summary": op.summary}
        if op.secured:
            operation["security"] = [{"bearerAuth": []}]
        if op.query is not None:
            operation["parameters"] = query_parameters(op.query)
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": json_content(self.refs[op.body])}
        errors = {str(self.errors[name].status): _ref(name) for name in op.errors}
        operation["responses"] = {"200": self.ok(op), **errors}
        return operation

    def ok(self, op: Operation) -> JSON:
        """Return the 200 response of ``op``, described by its answer's docstring."""
        ok: JSON = {"description": inspect.getdoc(op.answer), "content": json_content(self.refs[op.answer])}
        headers = {**(rate_headers() if op.limited else {}), **(work_headers() if op.charged else {})}
        if headers:
            ok["headers"] = headers
        return ok

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
            "paths": {op.path: {op.method: self.operation(op)} for op in self.operations},
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
    return _Document(settings, shapes.declare(shapes.TweetLimits.of(settings), models)).build()
