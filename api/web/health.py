"""Liveness and readiness probes: no auth, no rate limit, no body to parse."""

import threading

from flask import Blueprint, Flask, Response, current_app, jsonify

from api.history import extension as history
from api.web import extensions as ext
from api.web import feedback, jobs
from api.web.errors import NOT_READY
from api.web.limits import storage_state

bp = Blueprint("health", __name__)

# Set in a worker that is stopping (API_SHUTDOWN_DELAY): /readyz then refuses while requests are served.
STOPPING: ext.Key[threading.Event] = ext.Key("sentiment_stopping")


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """The model is loaded and verified, so predictions can be served.

    A failing history database degrades (``"history": {"ok": false}``) but does not make the
    server unready: predictions do not depend on it. Nor does the job queue's broker (``"jobs"``):
    it is reported, for jobs wait for it while predictions go on. Nor does drift (``"drift"``, per
    served model: api/history/monitor.py): a warning, read from the history without waiting for it.
    """
    if STOPPING.of(current_app).is_set():
        return NOT_READY.answer("stopping: leaving the load balancer's rotation before closing")
    service = ext.MODEL.get(current_app)
    if service is None or not service.ready:
        return NOT_READY.answer("model not loaded")
    return jsonify(
        status="ready",
        model=service.default,
        version=service.info["version"],
        models=list(service.models),
        # Each model's version this worker serves now: after a reload, the new ones.
        versions=service.current().versions(),
        rate_limit_storage=storage_state(),
        history=history.state(current_app),
        jobs=jobs.state(current_app),
        drift=feedback.drift_state(current_app),
    )


def leave_rotation(app: Flask) -> None:
    """From now on, ``app``'s /readyz answers 503 (the worker is stopping; see API_SHUTDOWN_DELAY)."""
    STOPPING.of(app).set()


def init_app(app: Flask) -> None:
    """Give ``app`` its stopping flag, clear: a new worker is in rotation."""
    STOPPING.put(app, threading.Event())
