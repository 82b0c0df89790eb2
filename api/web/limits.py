"""Rate limits (flask-limiter), keyed by token name once known, by client address before.

One budget of requests per token (per client address group before authentication, see
api/addresses.py) across every endpoint: an application-wide limit, not one per route.
With a ``redis://`` storage the counts are shared by every worker and machine.
If the storage becomes unreachable, each worker falls back to counting in its
own memory, logs a warning and counts the event, and returns to the shared
storage once it answers again (flask-limiter probes it with a growing delay).
"""

import logging
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api import constants as c
from api.addresses import client_group
from api.settings import settings_of
from api.web import extensions as ext
from api.web import limitstore
from api.web.auth import token_name_or_none
from api.web.errors import own_retry_after
from api.workbudget import storage_options

# Failed authentications share one bucket per address group, whichever endpoint they hit.
AUTH_FAILURE_SCOPE = "auth-failures"


def rate_limit_key() -> str:
    """Return the bucket of this request: its valid token's name, else its client address group."""
    name = token_name_or_none()
    return f"token:{name}" if name else _address_key()


def _address_key() -> str:
    """Return the bucket of failed authentications: the client address group."""
    return f"addr:{client_group(get_remote_address())}"


def _has_valid_token() -> bool:
    """Requests with a valid token never spend the failed-authentication budget."""
    return token_name_or_none() is not None


def _is_auth_failure(response: Response) -> bool:
    """Only 401 answers count towards the failed-authentication limit."""
    return response.status_code == 401


def _retry_after_only_when_limited(response: Response) -> Response:
    """Keep Retry-After on 429s only, and the app's own value on the app's own 429s.

    flask-limiter sets it on every response, and on a 429 of ours (work budget, requests
    in flight) replaces our value with its request window's reset when that is later.
    """
    own = own_retry_after()
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    elif own is not None:
        response.headers["Retry-After"] = own
    return response


class StorageEvents:
    """Stands in for flask-limiter's logger: passes every record on, and counts the storage's fall-backs.

    Whether the counts are shared right now is read from the limiter itself: its public
    ``limiter`` (the strategy it counts with) works on its configured ``storage``, or on
    the in-memory fallback while that storage is down. Falling back has no such signal:
    flask-limiter's only trace of it is a warning, so each warning is counted (the one
    other warning flask-limiter logs comes from ``Limiter.reset``, which is never called).
    ``distributed``: the configured storage is one that workers share (not ``memory://``).
    """

    def __init__(self, logger: logging.Logger, limiter: Limiter, distributed: bool) -> None:
        self._logger = logger
        self._limiter = limiter
        self.distributed = distributed
        self.fallbacks = 0

    @property
    def shared(self) -> bool:
        """Return True while every worker counts in the same place."""
        return self.distributed and self._limiter.limiter.storage is self._limiter.storage

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Count a fall-back to per-worker memory."""
        self.fallbacks += 1
        self._logger.warning(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """Delegate every other logging call."""
        return getattr(self._logger, name)


# Where create_app keeps the app's StorageEvents.
LIMIT_STORAGE: ext.Key[StorageEvents] = ext.Key(c.EXT_LIMIT_STORAGE)


def storage_state() -> dict[str, bool | int]:
    """Describe the rate-limit storage of the current app for /readyz."""
    events = LIMIT_STORAGE.of(current_app)
    return {"shared": events.shared, "fallbacks": events.fallbacks}


def init_app(app: Flask, protected: Iterable[Blueprint]) -> Limiter:
    """Give ``app`` its own limiter; ``protected`` (blueprints) also get the failed-auth limit.

    One limiter per app rather than a module-level one: flask-limiter keeps
    the first app's settings on the instance, and tests build many apps.
    """
    # Registered before the limiter's own hook so that it runs after it
    # (Flask runs after_request hooks in reverse order of registration).
    app.after_request(_retry_after_only_when_limited)
    settings = settings_of(app)
    storage = settings.RATE_LIMIT_STORAGE
    limiter = Limiter(
        key_func=rate_limit_key,
        app=app,
        # Application-wide: one bucket per token (or address) for every route, not one per route.
        application_limits=[settings.RATE_LIMIT],
        storage_uri=limitstore.storage_uri(storage),
        storage_options=storage_options(storage),
        headers_enabled=True,
        in_memory_fallback_enabled=True,
    )
    events = StorageEvents(limiter.logger, limiter, distributed=not storage.startswith("memory://"))
    # Not a Logger, but every method flask-limiter calls on its logger is one of a Logger's.
    limiter.logger = LIMIT_STORAGE.put(app, events)  # type: ignore[assignment]
    failed_auth = limiter.shared_limit(
        settings.AUTH_FAILURE_LIMIT,
        scope=AUTH_FAILURE_SCOPE,
        key_func=_address_key,
        exempt_when=_has_valid_token,
        deduct_when=_is_auth_failure,
        override_defaults=False,  # in addition to API_RATE_LIMIT, not instead of it
    )
    for blueprint in protected:
        failed_auth(blueprint)
    _resolve_once(limiter)
    return limiter


def _resolve_once(limiter: Limiter) -> None:
    """Have ``limiter`` work out which limits apply to an endpoint once, not on every request.

    flask-limiter resolves them again for each request: it walks the blueprints' exemptions and
    parses every limit string anew, a fifth of the time a no-op request spent in the app (make
    bench's profile). Here every limit and exemption is set before the first request and never
    changes (no per-route decorators, no limits computed per request), so the same endpoint always
    resolves to the same limits; whether each applies to this request (the valid-token exemption,
    the deduction on a 401) is still decided per request, by flask-limiter.
    """
    manager = limiter.limit_manager
    resolve, exemption = manager.resolve_limits, manager.exemption_scope
    resolved: dict[tuple[Any, ...], Any] = {}
    exemptions: dict[tuple[str | None, str | None], Any] = {}

    def resolve_limits(app: Flask, *args: Any, **kwargs: Any) -> Any:
        """Return flask-limiter's answer for these arguments, worked out at their first request."""
        key = (*args, *sorted(kwargs.items()))
        if key not in resolved:
            resolved[key] = resolve(app, *args, **kwargs)
        return resolved[key]

    def exemption_scope(app: Flask, endpoint: str | None, blueprint: str | None) -> Any:
        """Return flask-limiter's exemption scope of an endpoint, worked out at its first request."""
        if (endpoint, blueprint) not in exemptions:
            exemptions[endpoint, blueprint] = exemption(app, endpoint, blueprint)
        return exemptions[endpoint, blueprint]

    # Instance attributes, this limiter's (one per app): flask-limiter looks them up on every call.
    manager.resolve_limits = resolve_limits  # type: ignore[method-assign]
    manager.exemption_scope = exemption_scope  # type: ignore[method-assign]
