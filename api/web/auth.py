"""Bearer-token authentication (flask-httpauth) against the hashed tokens file."""

from flask import Flask, Response, current_app, g, request
from flask_httpauth import HTTPTokenAuth

from api.ops.tokens import TokenStore
from api.settings import settings_of
from api.web import extensions as ext
from api.web.errors import UNAUTHORIZED, error_response

auth = HTTPTokenAuth(scheme="Bearer")


@auth.verify_token
def verify_token(token: str) -> str | None:
    """Return the token's name, which becomes ``auth.current_user()``, or None."""
    return _name_of(token)


def _name_of(token: str) -> str | None:
    """Return the name of ``token`` or None, looked up once per request (the limiter and the view ask)."""
    # Compared with ==: both sides are this request's own token, so there is nothing secret to time.
    remembered: tuple[str, str | None] | None = g.get("_token_lookup")
    if remembered is None or remembered[0] != token:
        remembered = g._token_lookup = (token, ext.TOKENS.of(current_app).lookup(token))
    return remembered[1]


@auth.error_handler
def auth_error(status: int) -> Response:
    """Answer failed authentication in the shared JSON shape (flask-httpauth adds WWW-Authenticate)."""
    if status == UNAUTHORIZED.status:
        header = request.headers.get("Authorization")
        message = "missing bearer token" if header is None else "invalid, malformed or revoked bearer token"
        return UNAUTHORIZED.answer(message)
    return error_response(status, "forbidden")


def current_user() -> str:
    """Return the name of the authenticated caller (in a view behind ``auth.login_required``)."""
    name: str = auth.current_user()
    return name


def token_name_or_none() -> str | None:
    """Return the name of the request's bearer token if it is valid (used before the view runs)."""
    # Asked two or three times a request (the limiter's key, its exemption): parsed once.
    remembered: tuple[str | None] | None = g.get("_token_name")
    if remembered is None:
        # Parsed by flask-httpauth itself, so the limiter and the view agree on the token.
        token = getattr(auth.get_auth(), "token", None)
        remembered = g._token_name = (_name_of(token) if token else None,)
    return remembered[0]


def is_admin(name: str) -> bool:
    """Return True if the token called ``name`` has the admin flag (it sees every caller's history)."""
    return ext.TOKENS.of(current_app).is_admin(name)


def init_app(app: Flask) -> None:
    """Give ``app`` its token store, built from its config."""
    settings = settings_of(app)
    ext.TOKENS.put(app, TokenStore(settings.TOKENS_FILE, settings.TOKEN_RELOAD_SECONDS))
