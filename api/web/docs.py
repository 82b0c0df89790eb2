"""The API's own description, public: it shows the shapes of requests and answers, no data."""

from flask import Blueprint, current_app, jsonify

from api import constants as c
from api.settings import settings_of
from api.web.openapi import build_spec

bp = Blueprint("docs", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI 3.1 document, with this app's limits and models."""
    return jsonify(build_spec(settings_of(current_app), list(current_app.extensions[c.EXT_MODEL].models)))
