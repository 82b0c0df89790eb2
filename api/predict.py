"""Version 1 of the API: predictions and model information, behind a bearer token."""

from flask import Blueprint, current_app, jsonify, request

from api import constants as c
from api.auth import auth
from api.validation import check_tweets, parse_json_object

bp = Blueprint("predict", __name__, url_prefix="/api/v1")


@bp.post("/predict")
@auth.login_required
def predict():
    """Label every tweet of a JSON object ``{id: text}``, keeping the keys and their order."""
    config = current_app.config
    tweets = check_tweets(
        parse_json_object(request),
        max_items=config[c.MAX_ITEMS],
        max_tweet_chars=config[c.MAX_TWEET_CHARS],
        max_key_chars=config[c.MAX_KEY_CHARS],
    )
    return jsonify(current_app.extensions[c.EXT_MODEL].predict(tweets))


@bp.get("/model")
@auth.login_required
def model_info():
    """Describe the served model: name, version, held-out metrics."""
    return jsonify(current_app.extensions[c.EXT_MODEL].info)
