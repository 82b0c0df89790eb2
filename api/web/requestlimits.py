"""The per-request check of flask-limiter's limits: each endpoint's resolved once, counted in one pass.

flask-limiter resolves an endpoint's limits and evaluates them anew for every request, through
its request context and a dozen context-local look-ups, then reads the window again for its
headers: about as long as a whole bare Flask request (make bench's profile, README "Performance").
The limits here are all set before the first request (application-wide and per blueprint, no
per-route decorators, no meta limits), so an endpoint always resolves to the same ones: this hook
asks flask-limiter's own resolution once per endpoint and method, then counts each request with
flask-limiter's strategy and storage, as its check would, and adds its headers from one window read.

Storage failures stay flask-limiter's to handle: while its storage is down (it counts in memory
then), or when a count here fails, the request is handed to flask-limiter's own check, which falls
back to memory, probes the storage with a growing delay and returns to it. Otherwise flask-limiter
has no per-request work at all (FastLimiter): it would cost as much again to find nothing to do.
"""

import time
from typing import TYPE_CHECKING, NamedTuple

from flask import Flask, Response, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import RateLimitItem
from limits.errors import StorageError
from limits.strategies import FixedWindowRateLimiter, RateLimiter

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
    # The shown limit's storage key and count after this request, when its hit told them (a fixed
    # window): the headers then need one read of the storage, not a key and two reads.
    window: tuple[str, int] | None = None


class FastLimiter(Limiter):
    """flask-limiter's Limiter, whose per-request hooks RequestLimits runs, and only when needed.

    flask-limiter registers a check before each request, its headers after and a reset of its
    request state at teardown: three hooks and a dozen context look-ups a request, for requests
    RequestLimits has already counted. Here they are not registered (flask-limiter adds them only
    for a limiter not yet among the app's, 4.1's ``init_app``, pinned); RequestLimits calls the
    check itself for the requests it leaves to flask-limiter, and the tests of limits with a
    failing storage cover those.
    """

    def init_app(self, app: Flask) -> None:
        """Configure flask-limiter on ``app`` without its request hooks (RequestLimits calls them)."""
        app.extensions.setdefault("limiter", set()).add(self)
        super().init_app(app)


class RequestLimits:
    """Checks a request against flask-limiter's limits for its endpoint, and adds the limit headers."""

    def __init__(self, limiter: FastLimiter) -> None:
        self._limiter = limiter
        self._app: Flask | None = None
        self._plans: dict[tuple[str, str], tuple[_Planned, ...]] = {}

    def init_app(self, app: Flask) -> None:
        """Register the check before each request and the deductions and headers after it."""
        self._app = app
        app.before_request(self.check)
        app.after_request(self.finish)

    def check(self) -> None:
        """Count this request in each of its endpoint's limits; raise RateLimitExceeded past one."""
        # The request itself, not its context-local proxy: read three times here.
        current = request._get_current_object()  # type: ignore[attr-defined]
        endpoint = current.endpoint
        # As flask-limiter: a request no route matched, or a static file, counts in no limit.
        if endpoint is None or endpoint.rpartition(".")[2] == "static":
            return
        limiter = self._limiter
        strategy = limiter.limiter
        if strategy.storage is not limiter.storage:
            self._delegate()
            return
        try:
            self._count(strategy, endpoint, current.blueprint, current.method)
        except StorageError:
            self._delegate()

    def finish(self, response: Response) -> Response:
        """Deduct the limits that count this answer (a 401), then add the limit headers."""
        counted: _Counted | None = g.get(_STATE)
        if counted is None:
            return response
        limiter = self._limiter
        strategy = limiter.limiter
        try:
            header = counted.header
            deductions = counted.deductions
            if counted.delegated:
                # What flask-limiter's own check found: its limits to deduct, and the one to show.
                pending = limiter.context.conditional_deductions.items()
                deductions = tuple((limit, tuple(args)) for limit, args in pending)
                current = limiter.current_limit
                header = (current.limit, tuple(current.request_args)) if current else None
            for limit, args in deductions:
                if limit.deduct_when is not None and limit.deduct_when(response):
                    strategy.hit(limit.limit, *args, cost=limit.deduction_amount)
            if header is not None:
                _add_headers(response, strategy, *header, counted.window)
        except StorageError:
            # The next request's count meets the same failure and hands over to flask-limiter.
            pass
        return response

    def _count(self, strategy: RateLimiter, endpoint: str, blueprint: str | None, method: str) -> None:
        """Hit (or, for limits deducted only on some answers, test) each limit of ``endpoint``."""
        # The blueprint is the endpoint's prefix: the endpoint and method decide the plan.
        plan = self._plans.get((endpoint, method))
        if plan is None:
            plan = self._plans[endpoint, method] = self._plan(endpoint, blueprint, method)
        header: tuple[RuntimeLimit, tuple[str, ...]] | None = None
        window: tuple[str, int] | None = None
        deductions = []
        for planned in plan:
            limit = planned.limit
            if limit.is_exempt:
                continue
            item, args, cost = limit.limit, (limit.key_func(), planned.scope), limit.deduction_amount
            hit: tuple[str, int] | None = None
            if limit.deduct_when is not None:
                deductions.append((limit, args))
                passed = strategy.test(item, *args, cost=cost)
            elif type(strategy) is FixedWindowRateLimiter:
                # Its hit, keeping the count it reads (limits' FixedWindowRateLimiter.hit keeps a bool).
                key = item.key_for(*args)
                hit = (key, strategy.storage.incr(key, item.get_expiry(), amount=cost))
                passed = hit[1] <= item.amount
            else:
                passed = strategy.hit(item, *args, cost=cost)
            # As flask-limiter: the headers show the first limit of this endpoint's own, else a shared one.
            if header is None or (header[0].shared and not limit.shared):
                header, window = (limit, args), hit
            if not passed:
                self._limiter.logger.info("ratelimit %s (%s) exceeded at endpoint: %s", item, *args)
                setattr(g, _STATE, _Counted((item, args), tuple(deductions), False, hit))
                raise RateLimitExceeded(limit)
        shown = (header[0].limit, header[1]) if header is not None else None
        setattr(g, _STATE, _Counted(shown, tuple(deductions), False, window))

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
        """Hand this request to flask-limiter's own check (its state lives and ends with the request)."""
        setattr(g, _STATE, _Counted(None, (), delegated=True))
        self._limiter._check_request_limit()


def _add_headers(
    response: Response,
    strategy: RateLimiter,
    item: RateLimitItem,
    args: tuple[str, ...],
    window: tuple[str, int] | None,
) -> None:
    """Add the limit, what remains and when it resets; a 429 of the limiter's also gets Retry-After.

    ``window``: the limit's storage key and its count after this request, if the check read them.
    """
    if window is None:
        reset, remaining = strategy.get_window_stats(item, *args)
    else:
        key, count = window
        reset, remaining = strategy.storage.get_expiry(key), max(0, item.amount - count)
    reset_at = int(reset + 1)
    headers = response.headers
    headers.extend(
        ((HEADER_LIMIT, str(item.amount)), (HEADER_REMAINING, str(remaining)), (HEADER_RESET, str(reset_at)))
    )
    # The app's own 429s (work budget, requests in flight) carry their own, sooner Retry-After.
    if response.status_code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(max(0, int(reset_at - time.time())))
