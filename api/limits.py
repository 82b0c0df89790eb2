"""Rate limits (flask-limiter), keyed by token name once known, by client address before."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api import constants as c
from api.auth import token_name_or_none


def rate_limit_key():
    """Return the bucket of this request: its valid token's name, else its client address."""
    name = token_name_or_none()
    return f"token:{name}" if name else f"addr:{get_remote_address()}"


def _retry_after_only_when_limited(response):
    """Drop Retry-After from answers that are not 429: flask-limiter sets it on every response."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app):
    """Give ``app`` its own limiter, configured from its config; return the limiter.

    One limiter per app rather than a module-level one: flask-limiter keeps
    the first app's settings on the instance, and tests build many apps.
    """
    # Registered before the limiter's own hook so that it runs after it
    # (Flask runs after_request hooks in reverse order of registration).
    app.after_request(_retry_after_only_when_limited)
    return Limiter(
        key_func=rate_limit_key,
        app=app,
        default_limits=[app.config[c.RATE_LIMIT]],
        storage_uri=app.config[c.RATE_LIMIT_STORAGE],
        headers_enabled=True,
    )
