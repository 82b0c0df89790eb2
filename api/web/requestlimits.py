"""The per-request check of flask-limiter's limits: each endpoint's resolved once, counted in one pass.

flask-limiter resolves an endpoint's limits and evaluates them anew for every request, through
its request context and a dozen context-local look-ups, then reads the window again for its
headers: about as long as a whole bare Flask request (make bench's profile, README "Performance").
The limits here are all set before the first request (application-wide and per blueprint, no
per-route decorators, no meta limits), so an endpoint always resolves to the same ones: this hook
asks flask-limiter's own resolution once per endpoint and method, then counts each request with
flask-limiter's strategy and storage, as its check would, and adds its headers from one window read.

Storage failures stay flask-limiter's to handle: while its storage is down (it counts in memory
then), or when a count here fails, the request goes on to flask-limiter's own check, which falls
back to memory, probes the storage with a growing delay and returns to it. Otherwise its check
is skipped (FastLimiter): it would cost as much again to find nothing to do.
"""

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Flask, Response, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter._extension import LimiterContext
from limits import RateLimitItem
from limits.errors import StorageError
from limits.strategies import RateLimiter

if TYPE_CHECKING:
    # flask-limiter's resolved limit: public as what its resolution returns, not as a name.
    from flask_limiter._limits import RuntimeLimit

HEADER_LIMIT = "X-RateLimit-Limit"
HEADER_REMAINING = "X-RateLimit-Remaining"
HEADER_RESET = "X-RateLimit-Reset"
# Where a request keeps what its check found, for the response hook.
_STATE = "sentiment_request_limits"


class _Planned(NamedTuple):
    """One limit of an endpoint, with its bucket's scope (fixed per endpoint and method)."""

    limit: "RuntimeLimit"
    scope: str


class _Counted(NamedTuple):
    """What the check left for the answer: the limit its headers show, and limits to deduct on a match."""

    header: tuple[RateLimitItem, tuple[str, ...]] | None
    deductions: tuple[tuple["RuntimeLimit", tuple[str, ...]], ...]
    # Counted by flask-limiter's own check (storage down or failing): its context has the limit.
    delegated: bool


class FastLimiter(Limiter):
    """flask-limiter's Limiter, whose own per-request work runs only on what RequestLimits leaves it.

    Its check and its per-request state (``context``: its after-request and teardown hooks read
    and clear it) are skipped for a request counted here: they would find nothing to do, at the
    cost of a few context look-ups each. Both are flask-limiter 4.1's (pinned), and the tests of
    limits with a failing storage cover the requests left to it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What ``context`` gives for a request counted here: never written to, so always empty.
        self._idle = LimiterContext()

    def _check_request_limit(self, *args: Any, **kwargs: Any) -> None:
        """Run flask-limiter's check unless RequestLimits counted this request already."""
        if not _counted_here():
            super()._check_request_limit(*args, **kwargs)

    @property
    def context(self) -> LimiterContext:
        """Return flask-limiter's state of this request; an empty one if RequestLimits counted it."""
        return self._idle if _counted_here() else super().context


def _counted_here() -> bool:
    """Return True if RequestLimits counted this request (not left to flask-limiter's own check)."""
    counted: _Counted | None = g.get(_STATE)
    return counted is not None and not counted.delegated


class RequestLimits:
    """Checks a request against flask-limiter's limits for its endpoint, and adds the limit headers."""

    def __init__(self, limiter: FastLimiter) -> None:
        self._limiter = limiter
        self._app: Flask | None = None
        self._plans: dict[tuple[str, str | None, str], tuple[_Planned, ...]] = {}

    def init_app(self, app: Flask) -> None:
        """Register the check before each request and the headers after it; before the limiter's init_app.

        Registered first, the check runs before flask-limiter's, which then knows whether to count.
        """
        self._app = app
        app.before_request(self.check)
        app.after_request(self.finish)

    def check(self) -> None:
        """Count this request in each of its endpoint's limits; raise RateLimitExceeded past one."""
        endpoint = request.endpoint
        # As flask-limiter: a request no route matched, or a static file, counts in no limit.
        if endpoint is None or endpoint.rpartition(".")[2] == "static":
            return
        limiter = self._limiter
        strategy = limiter.limiter
        if strategy.storage is not limiter.storage:
            self._delegate()
            return
        try:
            self._count(strategy, endpoint)
        except StorageError:
            self._delegate()

    def finish(self, response: Response) -> Response:
        """Deduct the limits that count this answer (a 401), then add the limit headers."""
        # Read, not taken: flask-limiter's teardown asks again (FastLimiter.context).
        counted: _Counted | None = g.get(_STATE)
        if counted is None:
            return response
        strategy = self._limiter.limiter
        try:
            for limit, args in counted.deductions:
                if limit.deduct_when is not None and limit.deduct_when(response):
                    strategy.hit(limit.limit, *args, cost=limit.deduction_amount)
            header = counted.header
            if counted.delegated:
                current = self._limiter.current_limit
                header = (current.limit, tuple(current.request_args)) if current else None
            if header is not None:
                _add_headers(response, strategy, *header)
        except StorageError:
            # The next request's count meets the same failure and hands over to flask-limiter.
            pass
        return response

    def _count(self, strategy: RateLimiter, endpoint: str) -> None:
        """Hit (or, for limits deducted only on some answers, test) each limit of ``endpoint``."""
        plan_key = (endpoint, request.blueprint, request.method)
        plan = self._plans.get(plan_key)
        if plan is None:
            plan = self._plans[plan_key] = self._plan(*plan_key)
        header: tuple[RuntimeLimit, tuple[str, ...]] | None = None
        deductions = []
        for planned in plan:
            limit = planned.limit
            if limit.is_exempt:
                continue
            args = (limit.key_func(), planned.scope)
            if limit.deduct_when is not None:
                deductions.append((limit, args))
                passed = strategy.test(limit.limit, *args, cost=limit.deduction_amount)
            else:
                passed = strategy.hit(limit.limit, *args, cost=limit.deduction_amount)
            # As flask-limiter: the headers show the first limit of this endpoint's own, else a shared one.
            if header is None or (header[0].shared and not limit.shared):
                header = (limit, args)
            if not passed:
                self._limiter.logger.info("ratelimit %s (%s) exceeded at endpoint: %s", limit.limit, *args)
                setattr(g, _STATE, _Counted((limit.limit, args), tuple(deductions), delegated=False))
                raise RateLimitExceeded(limit)
        shown = (header[0].limit, header[1]) if header is not None else None
        setattr(g, _STATE, _Counted(shown, tuple(deductions), delegated=False))

    def _plan(self, endpoint: str, blueprint: str | None, method: str) -> tuple[_Planned, ...]:
        """Return the limits flask-limiter resolves for ``endpoint``, in the order it checks them."""
        assert self._app is not None, "resolved only in a request, after init_app"
        defaults, decorated = self._limiter.limit_manager.resolve_limits(
            self._app, endpoint, blueprint, in_middleware=True
        )
        limits = sorted((*defaults, *decorated), key=lambda limit: limit.limit)
        # No limit here is computed per request: a scope or method list is fixed per endpoint and method.
        return tuple(
            _Planned(limit, limit.scope_for(endpoint, method))
            for limit in dict.fromkeys(limits)
            if limit.methods is None or method.lower() in limit.methods
        )

    def _delegate(self) -> None:
        """Leave this request to flask-limiter's own check, which runs next."""
        setattr(g, _STATE, _Counted(None, (), delegated=True))


def _add_headers(
    response: Response, strategy: RateLimiter, item: RateLimitItem, args: tuple[str, ...]
) -> None:
    """Add the limit, what remains and when it resets; a 429 of the limiter's also gets Retry-After."""
    reset, remaining = strategy.get_window_stats(item, *args)
    reset_at = int(reset + 1)
    headers = response.headers
    headers.extend(
        ((HEADER_LIMIT, str(item.amount)), (HEADER_REMAINING, str(remaining)), (HEADER_RESET, str(reset_at)))
    )
    # The app's own 429s (work budget, requests in flight) carry their own, sooner Retry-After.
    if response.status_code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(max(0, int(reset_at - time.time())))
