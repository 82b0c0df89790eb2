"""Version 1 of the API: predictions and model information, behind a bearer token."""

from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, request

from api.errors import HistoryDisabled, HistoryUnavailable, InvalidParameter
from api.history.errors import HistoryReadError
from api.settings import settings_of
from api.web import extensions as ext
from api.web import metrics
from api.web.auth import auth, current_user, is_admin
from api.web.budget import EXPLAINED_BASIS, PLAIN_BASIS, WORK_BUDGET
from api.web.explaining import add_explanations, explain_models, explain_query, request_cost
from api.web.fairness import CPU_TURNS
from api.web.identity import identity_headers
from api.web.limits import rate_limit_key
from api.web.shadow import SHADOW
from api.web.shapes import (
    BOOLEANS,
    HISTORY_BEFORE_MAX,
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MAX,
    TweetLimits,
)
from api.web.validation import check_tweets, parse_json_object
from model.serving.registry import ModelSet

bp = Blueprint("predict", __name__, url_prefix="/api/v1")

PREDICT_PARAMETERS = ("model", "detail", "store", "explain")
_ACCEPTED = frozenset(PREDICT_PARAMETERS)
LISTING_PARAMETERS = ("limit", "before")


@bp.post("/predict")
@auth.login_required
def predict() -> Response:
    """Label every tweet of a JSON object ``{id: text}``, keeping the keys and their order.

    ``?model=<name>|all`` picks the model (default: the configured one);
    ``?detail=true`` answers ``{"label", "score"}`` per key, the score being P(Positive);
    ``?store=false`` keeps this request out of the prediction history;
    ``?explain=true`` adds each tweet's explanation to its label and score (api/web/explaining.py).
    """
    registry = ext.MODEL.of(current_app)
    # One set of models for the whole request: a reload swapping another in meanwhile changes nothing here.
    served = registry.current()
    name, detail, store = _query(served)
    explained = explain_query()
    limits, caller = TweetLimits.of(settings_of(current_app)), current_user()
    turns = CPU_TURNS.of(current_app)
    with turns.admitted(caller):
        tweets = check_tweets(parse_json_object(request), limits)
        asked = [served.models[n] for n in served.names(name)]
        cost = request_cost(list(tweets.values()), asked, explained)
        basis = EXPLAINED_BASIS if explained else PLAIN_BASIS
        charge = WORK_BUDGET.of(current_app).charge(rate_limit_key(), cost, basis)
        # Scored in slices that take turns with other tokens' requests (api/web/fairness.py).
        with turns.turn(caller) as turn:
            scores = registry.score(
                tweets, name, between=turn.pause_if_due, chunk_seconds=turns.slice_seconds, using=served
            )
            models = {n: served.models[n] for n in scores}
            why = (
                explain_models(models, list(tweets.values()), turn.pause_if_due, turns.slice_seconds)
                if explained
                else None
            )
    metrics.count_scored(scores)
    history = ext.HISTORY.of(current_app)
    if store and history is not None:
        # Only queues the request: the database is written by the history thread, never here. The
        # models: a few tweets' unknown-token shares go with it, the drift monitor's sample.
        versions = {n: served.infos[n]["version"] for n in scores}
        history.record(caller, tweets, scores, versions, served.models)
    answer = registry.shape(tweets, scores, name, detail or explained)
    response = jsonify(answer if why is None else add_explanations(answer, why, name))
    response.headers.update(charge.headers() | identity_headers(served.infos, scores))
    shadow = SHADOW.of(current_app)
    if shadow is not None:
        shadow.after(response, tweets, scores)  # scored once the answer is sent, off the request's path
    return response


def _query(registry: ModelSet) -> tuple[str | None, bool, bool]:
    """Return the (model name, detail, store) the query string asks for, or raise InvalidParameter."""
    args = request.args  # one look-up of the request's parsed query
    unknown = sorted(args.keys() - _ACCEPTED)
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter; accepted: {', '.join(PREDICT_PARAMETERS)}", key=unknown[0]
        )
    name = args.get("model")
    if name is not None and name not in registry.choices():
        raise InvalidParameter(f"unknown model; valid: {', '.join(registry.choices())}", key="model")
    detail = args.get("detail", "false")
    if detail not in BOOLEANS:
        raise InvalidParameter("detail must be true or false", key="detail")
    store = args.get("store", "true")
    if store not in BOOLEANS:
        raise InvalidParameter("store must be true or false", key="store")
    return name, BOOLEANS[detail], BOOLEANS[store]


@bp.get("/predictions")
@auth.login_required
def predictions() -> Response:
    """List the caller's stored predictions, newest first (every caller's for an admin token).

    ``?limit=N`` (1 to 1000, default 50) bounds how many; ``?before=`` is the ``next`` of the
    previous page, a stored row's id: only older rows.
    """
    limit, before = _listing_query()
    history = ext.HISTORY.of(current_app)
    if history is None:
        raise HistoryDisabled("prediction history is disabled on this server (API_HISTORY_URL=none)")
    caller = current_user()
    try:
        rows, following = history.recent(limit, None if is_admin(caller) else caller, before)
    except HistoryReadError as exc:
        raise HistoryUnavailable("the prediction history database does not answer; retry later") from exc
    return jsonify(predictions=rows, next=following)


def _listing_query() -> tuple[int, int | None]:
    """Return the ``limit`` and ``before`` the query string asks for, or raise InvalidParameter."""
    unknown = sorted(set(request.args) - set(LISTING_PARAMETERS))
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter; accepted: {', '.join(LISTING_PARAMETERS)}", key=unknown[0]
        )
    limit = _whole("limit", request.args.get("limit", str(HISTORY_LIMIT_DEFAULT)), HISTORY_LIMIT_MAX)
    raw = request.args.get("before")
    return limit, None if raw is None else _whole("before", raw, HISTORY_BEFORE_MAX)


def _whole(key: str, raw: str, maximum: int) -> int:
    """Return ``raw`` (ASCII digits) as an integer from 1 to ``maximum``, or raise InvalidParameter."""
    # The length first: int() of thousands of digits is slow, and refused past 4300 (a ValueError).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)) and 1 <= int(raw) <= maximum):
        raise InvalidParameter(f"{key} must be an integer from 1 to {maximum}", key=key)
    return int(raw)


@dataclass(frozen=True)
class ModelJson:
    """The body of ``GET /model`` for one model set: serialised once per set, not on every request."""

    served: ModelSet
    body: bytes


# The app's cached body; a reload swaps in a new model set, whose first request serialises it again.
MODEL_JSON: ext.Key[ModelJson] = ext.Key("api.model_json")


@bp.get("/model")
@auth.login_required
def model_info() -> Response:
    """Describe the default model: name, version, held-out metrics."""
    served = ext.MODEL.of(current_app).current()
    cached = MODEL_JSON.get(current_app)
    if cached is None or cached.served is not served:  # "is": the set itself, held, so never a reused id
        cached = MODEL_JSON.put(current_app, ModelJson(served, jsonify(served.info).get_data()))
    return current_app.response_class(cached.body, mimetype="application/json")


@bp.get("/models")
@auth.login_required
def models() -> Response:
    """List every served model with its version and held-out metrics; one is the default."""
    served = ext.MODEL.of(current_app).current()  # one set: a reload between two reads cannot mix them
    return jsonify(models=list(served.infos.values()), default=served.default)
