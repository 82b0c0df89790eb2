"""Feedback on predictions, and the live accuracy it measures: ``/api/v1/feedback``.

A caller tells the true label of tweets its token had scored; each is joined to the newest
stored answer of that token and id, per model (api/history/store.py), and live accuracy per
model and version is read back from those rows (api/history/monitor.py). The history is written
asynchronously, tens of milliseconds after a prediction's answer: feedback sent right after it
may find no row yet, and the refusal says to retry.
"""

from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from api.errors import (
    HistoryDisabled,
    HistoryUnavailable,
    InvalidBody,
    InvalidItem,
    InvalidParameter,
    TooManyItems,
    UnknownPrediction,
)
from api.history import extension as history_extension
from api.history.errors import HistoryReadError
from api.history.extension import History
from api.history.monitor import Drift, MonitorCollector
from api.history.reads import Served
from api.settings import settings_of
from api.web import extensions as ext
from api.web import metrics
from api.web.auth import auth, current_user
from api.web.shapes import TweetLimits
from api.web.validation import NOT_TEXT, parse_json_object
from model.serving.drift import Reference
from model.serving.labels import LABELS
from model.serving.registry import ModelRegistry

bp = Blueprint("feedback", __name__, url_prefix="/api/v1")

DISABLED = "prediction history is disabled on this server (API_HISTORY_URL=none): no feedback is kept"
UNAVAILABLE = "the prediction history database does not answer; retry later"
# Shown with an id that has no stored prediction: the likeliest reason first.
NOT_STORED = (
    "no stored prediction of this token has this id: predictions are stored asynchronously, tens of"
    " milliseconds after their answer (retry shortly), unless asked with ?store=false or removed by the"
    " history's retention; nothing of this request was recorded"
)


@bp.post("/feedback")
@auth.login_required
def feedback() -> Response:
    """Record the true labels of tweets the caller's token scored: ``{id: "Positive"|"Negative"}``.

    All or nothing: an id the token has no stored prediction of is refused (404, ``key`` names it).
    """
    history = _history()
    _no_query()
    labels = check_labels(parse_json_object(request), TweetLimits.of(settings_of(current_app)))
    try:
        _, missing = history.store.add_feedback(current_user(), labels)
    except HistoryReadError as exc:
        raise HistoryUnavailable(UNAVAILABLE) from exc
    if missing:
        raise UnknownPrediction(NOT_STORED, key=missing[0])
    return jsonify(recorded=len(labels))


@bp.get("/feedback")
@auth.login_required
def live_accuracy() -> Response:
    """Live accuracy per model and version over the newest API_FEEDBACK_WINDOW feedback rows of each."""
    history = _history()
    _no_query()
    snapshot = history.monitor.snapshot(wait=True)
    if snapshot is None or not snapshot.ok:
        raise HistoryUnavailable(UNAVAILABLE)
    return jsonify(window=history.monitor.feedback_window, models=snapshot.accuracy)


def check_labels(data: dict[str, Any], limits: TweetLimits) -> dict[str, str]:
    """Check a feedback body: ids as a predict body's keys, each with a label; return it unchanged."""
    if not data:
        raise InvalidBody("body must contain at least one id")
    if len(data) > limits.max_items:
        raise TooManyItems(f"{len(data)} ids in one request; the limit is {limits.max_items}")
    for key, value in data.items():
        if not key or len(key) > limits.max_key_chars:
            raise InvalidItem(f"keys must be 1 to {limits.max_key_chars} characters", key=key[:64])
        if NOT_TEXT.search(key):
            raise InvalidItem("key contains NUL or a lone surrogate", key=NOT_TEXT.sub("?", key))
        if value not in LABELS:
            raise InvalidItem(f"value must be one of {', '.join(LABELS)}", key=key)
    return data


def _no_query() -> None:
    """Refuse any query parameter, as predict refuses unknown ones: these routes take none."""
    if request.args:
        raise InvalidParameter(
            "unknown query parameter; this endpoint takes none", key=sorted(request.args)[0]
        )


def _history() -> History:
    """Return the app's history, or raise HistoryDisabled."""
    history = history_extension.of(current_app)
    if history is None:
        raise HistoryDisabled(DISABLED)
    return history


def references_of(registry: ModelRegistry) -> dict[Served, Reference]:
    """Return the served models' drift references by (model, version); a model without one has none."""
    found = {}
    for info in registry.infos.values():
        # The manifest entry's, which the registry passes on when training wrote one.
        reference = cast(Mapping[str, Any], info).get("reference")
        if reference is not None:
            found[(info["name"], info["version"])] = cast(Reference, reference)
    return found


def init_app(app: Flask) -> None:
    """Have the history's monitor read the app's models' references, and publish it in /metrics."""
    history = history_extension.of(app)
    if history is None:
        return
    history.monitor.references = lambda: references_of(ext.MODEL.of(app))
    metrics.watch(app, MonitorCollector(history.monitor))


def drift_state(app: Flask) -> list[Drift]:
    """Return the drift of each served model for /readyz: the last read, never waiting for the database."""
    history = history_extension.of(app)
    snapshot = history.monitor.snapshot(wait=False) if history is not None else None
    return snapshot.drift if snapshot is not None else []
