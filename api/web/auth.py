"""Bearer-token authentication (flask-httpauth) against the hashed tokens file."""

from flask import current_app, g, request
from flask_httpauth import HTTPTokenAuth

from api import constants as c
from api.ops.tokens import TokenStore
from api.settings import settings_of
from api.web.errors import error_response

auth = HTTPTokenAuth(scheme="Bearer")


@auth.verify_token
def verify_token(token):
    """Return the token's name, which becomes ``auth.current_user()``, or None."""
    return _name_of(token)


def _name_of(token):
    """Return the name of ``token`` or None, looked up once per request (the limiter and the view ask)."""
    # Compared with ==: both sides are this request's own token, so there is nothing secret to time.
    remembered = g.get("_token_lookup")
    if remembered is None or remembered[0] != token:
        remembered = g._token_lookup = (token, current_app.extensions[c.EXT_TOKENS].lookup(token))
    return remembered[1]


@auth.error_handler
def auth_error(status):
    """Answer failed authentication in the shared JSON shape (flask-httpauth adds WWW-Authenticate)."""
    if status == 401:
        header = request.headers.get("Authorization")
        message = "missing bearer token" if header is None else "invalid, malformed or revoked bearer token"
        return error_response(401, message, code="unauthorized")
    return error_response(status, "forbidden")


def token_name_or_none():
    """Return the name of the request's bearer token if it is valid (used before the view runs)."""
    # Parsed by flask-httpauth itself, so the limiter and the view agree on the token.
    token = getattr(auth.get_auth(), "token", None)
    return _name_of(token) if token else None


def is_admin(name):
    """Return True if the token called ``name`` has the admin flag (it sees every caller's history)."""
    return current_app.extensions[c.EXT_TOKENS].is_admin(name)


def init_app(app):
    """Give ``app`` its token store, built from its config."""
    settings = settings_of(app)
    app.extensions[c.EXT_TOKENS] = TokenStore(settings.TOKENS_FILE, settings.TOKEN_RELOAD_SECONDS)
