"""The OpenAPI 3.1 document of the API: the operations of api/web/operations.py, over the shapes.

Nothing here restates a shape, a limit or an error code: shapes and limits come from the
declarations and the settings, codes from the errors (api/web/openapi_responses.py).
"""

import inspect
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from api.errors import code_for
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
from api.web.operations import Operation, operations

# A file, as a request or answer body: bytes of one of the job formats (api/web/jobshapes.py).
FILE_SCHEMA: JSON = {"type": "string", "format": "binary"}
DOWNLOAD = (
    "The result: `id,label,score` CSV (`id,label` without detail) or NDJSON, in the upload's order, the same"
    " bytes as `python -m model score` writes for the same file and options."
)


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


class _Document:
    """One build of the document: the schemas its operations refer to, and its error responses."""

    def __init__(self, settings: Settings, app_shapes: shapes.Shapes, submit_query: type[BaseModel]) -> None:
        feedback_body = feedbackshapes.feedback_body(shapes.TweetLimits.of(settings))
        self.operations = operations(app_shapes, submit_query, feedback_body)
        answers = [op.answer for op in self.operations if op.answer is not None]
        bodies = [op.body for op in self.operations if op.body is not None]
        self.refs, self.schemas = components([*answers, *bodies, shapes.Error])
        self.errors = error_answers(settings)
        # Machine-readable for clients that split long inputs (api/client/): the prose alone says it too.
        self.max_body_bytes = settings.MAX_BODY_BYTES

    def operation(self, op: Operation) -> JSON:
        """Return the OpenAPI operation object of ``op``."""
        operation: JSON = {"operationId": op.operation_id, "summary": op.summary}
        if op.secured:
            operation["security"] = [{"bearerAuth": []}]
        parameters = [*op.path_parameters, *(query_parameters(op.query) if op.query is not None else [])]
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": json_content(self.refs[op.body]),
                "x-max-body-bytes": self.max_body_bytes,
            }
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
        if op.text is not None:
            ok: JSON = {"description": op.summary, "content": {op.text: {"schema": {"type": "string"}}}}
        elif op.answer is None:
            ok = {"description": DOWNLOAD, "content": _files(op.download)}
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
