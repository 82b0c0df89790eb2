"""The API's own description, public: it shows the shapes of requests and answers, no data."""

from flask import Blueprint, Flask, Response, current_app, jsonify

from api.settings import settings_of
from api.web import extensions as ext
from api.web.openapi import JSON, build_spec

bp = Blueprint("docs", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3.1 document, with this app's limits and models."""
    return jsonify(document_of(current_app))


def document_of(app: Flask) -> JSON:
    """Return ``app``'s document, built on first use: building it (pydantic's models) takes ~40 ms."""
    document = ext.OPENAPI.get(app)
    if document is None:
        document = ext.OPENAPI.put(app, build_spec(settings_of(app), list(ext.MODEL.of(app).models)))
    return document
