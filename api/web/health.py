"""Liveness and readiness probes: no auth, no rate limit, no body to parse."""

from flask import Blueprint, current_app, jsonify

from api import constants as c
from api.history import store as history
from api.web.errors import error_response
from api.web.limits import storage_state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The model is loaded and verified, so predictions can be served.

    A failing history database degrades (``"history": {"ok": false}``) but does not make the
    server unready: predictions do not depend on it.
    """
    service = current_app.extensions.get(c.EXT_MODEL)
    if service is None or not service.ready:
        return error_response(503, "model not loaded", code="not_ready")
    return jsonify(
        status="ready",
        model=service.default,
        version=service.info["version"],
        models=list(service.models),
        rate_limit_storage=storage_state(),
        history=history.state(current_app),
    )
