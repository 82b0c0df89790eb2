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
from api.web.requestlimits import FastLimiter, RequestLimits
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
    settings = settings_of(app)
    storage = settings.RATE_LIMIT_STORAGE
    limiter = FastLimiter(
        key_func=rate_limit_key,
        # Application-wide: one bucket per token (or address) for every route, not one per route.
        application_limits=[settings.RATE_LIMIT],
        storage_uri=limitstore.storage_uri(storage),
        storage_options=storage_options(storage),
        # The check and its headers are RequestLimits' (api/web/requestlimits.py), on these limits;
        # flask-limiter's own check serves while its storage is down.
        headers_enabled=False,
        in_memory_fallback_enabled=True,
    )
    RequestLimits(limiter).init_app(app)
    limiter.init_app(app)
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
    return limiter
