"""Version 1 of the API: predictions and model information, behind a bearer token."""

from flask import Blueprint, current_app, jsonify, request

from api import constants as c
from api.auth import auth
from api.errors import InvalidParameter
from api.validation import check_tweets, parse_json_object

bp = Blueprint("predict", __name__, url_prefix="/api/v1")

PREDICT_PARAMETERS = ("model", "detail")
BOOLEANS = {"true": True, "false": False}


@bp.post("/predict")
@auth.login_required
def predict():
    """Label every tweet of a JSON object ``{id: text}``, keeping the keys and their order.

    ``?model=<name>|all`` picks the model (default: the configured one);
    ``?detail=true`` answers ``{"label", "score"}`` per key, the score being P(Positive).
    """
    registry = current_app.extensions[c.EXT_MODEL]
    name, detail = _query(registry)
    config = current_app.config
    tweets = check_tweets(
        parse_json_object(request),
        max_items=config[c.MAX_ITEMS],
        max_tweet_chars=config[c.MAX_TWEET_CHARS],
        max_key_chars=config[c.MAX_KEY_CHARS],
    )
    return jsonify(registry.predict(tweets, name, detail))


def _query(registry):
    """Return the (model name, detail) the query string asks for, or raise InvalidParameter."""
    unknown = sorted(set(request.args) - set(PREDICT_PARAMETERS))
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter; accepted: {', '.join(PREDICT_PARAMETERS)}", key=unknown[0]
        )
    name = request.args.get("model")
    if name is not None and name not in registry.choices():
        raise InvalidParameter(f"unknown model; valid: {', '.join(registry.choices())}", key="model")
    detail = request.args.get("detail", "false")
    if detail not in BOOLEANS:
        raise InvalidParameter("detail must be true or false", key="detail")
    return name, BOOLEANS[detail]


@bp.get("/model")
@auth.login_required
def model_info():
    """Describe the default model: name, version, held-out metrics."""
    return jsonify(current_app.extensions[c.EXT_MODEL].info)


@bp.get("/models")
@auth.login_required
def models():
    """List every served model with its version and held-out metrics; one is the default."""
    registry = current_app.extensions[c.EXT_MODEL]
    return jsonify(models=list(registry.infos.values()), default=registry.default)
