"""Rate limits (flask-limiter), keyed by token name once known, by client address before.

One budget of requests per token (per client address group before authentication, see
api/addresses.py) across every endpoint: an application-wide limit, not one per route.
With a ``redis://`` storage the counts are shared by every worker and machine.
If the storage becomes unreachable, each worker falls back to counting in its
own memory, logs a warning and counts the event, and returns to the shared
storage once it answers again (flask-limiter probes it with a growing delay).
"""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api import constants as c
from api.addresses import client_group
from api.settings import settings_of
from api.web.auth import token_name_or_none

# A storage that stops answering must not stall requests: fail fast, fall back. Its errors
# arrive as limits.errors.StorageError, which the work budget (api/web/budget.py) catches by name.
REDIS_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5, "wrap_exceptions": True}
# Failed authentications share one bucket per address group, whichever endpoint they hit.
AUTH_FAILURE_SCOPE = "auth-failures"


def rate_limit_key():
    """Return the bucket of this request: its valid token's name, else its client address group."""
    name = token_name_or_none()
    return f"token:{name}" if name else f"addr:{client_group(get_remote_address())}"


def _address_key():
    """Return the bucket of failed authentications: the client address group."""
    return f"addr:{client_group(get_remote_address())}"


def _has_valid_token():
    """Requests with a valid token never spend the failed-authentication budget."""
    return token_name_or_none() is not None


def _is_auth_failure(response):
    """Only 401 answers count towards the failed-authentication limit."""
    return response.status_code == 401


def _retry_after_only_when_limited(response):
    """Drop Retry-After from answers that are not 429: flask-limiter sets it on every response."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


class StorageEvents:
    """Stands in for flask-limiter's logger: passes every record on, and tracks the storage's state.

    flask-limiter logs a warning when it falls back to memory and an info line
    when the storage recovers; nothing else of it is public. ``distributed``: the
    configured storage is one that workers share (not ``memory://``).
    """

    def __init__(self, logger, distributed):
        self._logger = logger
        self.distributed = distributed
        self.fallbacks = 0
        self.fell_back = False

    @property
    def shared(self):
        """Return True while every worker counts in the same place."""
        return self.distributed and not self.fell_back

    def warning(self, msg, *args, **kwargs):
        """Count a fall-back to per-worker memory."""
        self.fallbacks += 1
        self.fell_back = True
        self._logger.warning(msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        """Notice the storage's recovery."""
        if "recovered" in str(msg):
            self.fell_back = False
        self._logger.info(msg, *args, **kwargs)

    def __getattr__(self, name):
        """Delegate every other logging call."""
        return getattr(self._logger, name)


def storage_state():
    """Describe the rate-limit storage of the current app for /readyz."""
    events = current_app.extensions[c.EXT_LIMIT_STORAGE]
    return {"shared": events.shared, "fallbacks": events.fallbacks}


def init_app(app, protected):
    """Give ``app`` its own limiter; ``protected`` (blueprints) also get the failed-auth limit.

    One limiter per app rather than a module-level one: flask-limiter keeps
    the first app's settings on the instance, and tests build many apps.
    """
    # Registered before the limiter's own hook so that it runs after it
    # (Flask runs after_request hooks in reverse order of registration).
    app.after_request(_retry_after_only_when_limited)
    storage = settings_of(app).RATE_LIMIT_STORAGE
    redis = storage.startswith(("redis://", "rediss://"))
    limiter = Limiter(
        key_func=rate_limit_key,
        app=app,
        # Application-wide: one bucket per token (or address) for every route, not one per route.
        application_limits=[settings_of(app).RATE_LIMIT],
        storage_uri=storage,
        storage_options=REDIS_OPTIONS if redis else {},
        headers_enabled=True,
        in_memory_fallback_enabled=True,
    )
    limiter.logger = app.extensions[c.EXT_LIMIT_STORAGE] = StorageEvents(
        limiter.logger, distributed=not storage.startswith("memory://")
    )
    failed_auth = limiter.shared_limit(
        settings_of(app).AUTH_FAILURE_LIMIT,
        scope=AUTH_FAILURE_SCOPE,
        key_func=_address_key,
        exempt_when=_has_valid_token,
        deduct_when=_is_auth_failure,
        override_defaults=False,  # in addition to API_RATE_LIMIT, not instead of it
    )
    for blueprint in protected:
        failed_auth(blueprint)
    return limiter
