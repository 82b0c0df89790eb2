"""The work budget: characters scored per model asked, per token, counted where the rate limits are.

Requests are not a measure of work: one request of 1000 long tweets with
``?model=all`` costs thousands of times the CPU of a one-tweet request. Measured
on the served models (README, "Hostile clients and faults"), CPU follows the
characters scored, within 1.2x from 10 to 1000 characters a tweet, while a
count of tweets is off by 90x between short and long ones; so a request costs
``models asked x characters`` (at least one per tweet), and ``API_WORK_LIMIT``
(``2000000/minute``) is the budget of one token (or address group, see
api/web/limits.py) across every endpoint that scores.

The budget lives in the rate limiter's storage, so it is exact across workers
and machines with Redis, and falls back to per-worker memory with it. A charge
that would overrun the budget is given back and refused (429, with Retry-After
saying when the window, and so the budget, starts anew): refused work costs
nothing, so the successes of a window add up to the budget exactly. That arithmetic is in
api/workbudget.py, which the job workers share: a job's chunks spend the same budget.
"""

from dataclasses import dataclass

from flask import Flask
from flask_limiter import Limiter
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage

from api import constants as c
from api.errors import APIError
from api.settings import settings_of
from api.web import extensions as ext
from api.web.limits import LIMIT_STORAGE, StorageEvents
from api.workbudget import OverBudget, spend, work_cost

# work_cost re-exported: a request costs what a job's chunk costs (api/workbudget.py).
__all__ = ["HEADER_LIMIT", "HEADER_REMAINING", "WORK_BUDGET", "Charge", "WorkBudget", "work_cost"]

HEADER_LIMIT = "X-Work-Limit"
HEADER_REMAINING = "X-Work-Remaining"


class WorkLimitExceeded(APIError, code="work_limit_exceeded", status=429):
    """The token's work budget cannot pay for this request now; it can after Retry-After seconds."""


class WorkTooLarge(APIError, code="work_too_large", status=413):
    """The request costs more than a whole window's budget: it can never be served as it is."""


@dataclass(frozen=True)
class Charge:
    """What a charge left: the budget and what remains of it in this window."""

    limit: int
    remaining: int

    def headers(self) -> dict[str, str]:
        """Return the headers that show the client its budget."""
        return {HEADER_LIMIT: str(self.limit), HEADER_REMAINING: str(self.remaining)}


# How a request's cost was counted, as the refusals say it.
PLAIN_BASIS = "characters x models"
EXPLAINED_BASIS = "characters x the models' explain factors"


class WorkBudget:
    """One app's view of the work budgets, kept in its limiter's storage."""

    def __init__(self, limit: str, limiter: Limiter, events: StorageEvents) -> None:
        self.item: RateLimitItem = parse(limit)
        self._limiter = limiter
        self._events = events
        self._own_fallback: Storage | None = None

    def charge(self, key: str, cost: int, basis: str = PLAIN_BASIS) -> Charge:
        """Spend ``cost`` from ``key``'s budget, or raise WorkLimitExceeded / WorkTooLarge.

        ``basis`` says, in the refusal's message, how the cost was counted.
        """
        amount = self.item.amount
        if cost > amount:
            raise WorkTooLarge(
                f"this request costs {cost} work units ({basis}), more than the whole"
                f" budget of {self.item}; split it into smaller requests"
            )
        storage = self._storage()
        try:
            return self._spend(storage, key, cost, basis)
        except StorageError:
            # The shared storage failed before the rate limiter noticed: count here alone, as it will.
            self._events.warning("work budget storage unreachable - counting in this worker's memory")
            return self._spend(self._fallback(), key, cost, basis)

    def _spend(self, storage: Storage, key: str, cost: int, basis: str) -> Charge:
        """Add ``cost`` to the window's count; give it back and refuse if that overran the budget."""
        try:
            return Charge(self.item.amount, spend(storage, self.item, key, cost))
        except OverBudget as over:
            raise WorkLimitExceeded(
                f"work budget exceeded: this request costs {cost} work units ({basis}),"
                f" {over.remaining} of {self.item} remain; retry after {over.retry_after} s",
                headers={
                    **Charge(over.limit, over.remaining).headers(),
                    "Retry-After": str(over.retry_after),
                },
            ) from None

    def _storage(self) -> Storage:
        """Return the storage the rate limiter counts in now (its memory while the shared one is down)."""
        return self._limiter.limiter.storage

    def _fallback(self) -> Storage:
        """Return this app's own memory storage, made when first needed."""
        if self._own_fallback is None:
            self._own_fallback = MemoryStorage()
        return self._own_fallback


# Where create_app keeps the app's WorkBudget.
WORK_BUDGET: ext.Key[WorkBudget] = ext.Key(c.EXT_WORK_BUDGET)


def init_app(app: Flask, limiter: Limiter) -> None:
    """Give ``app`` its work budget, counted in ``limiter``'s storage."""
    events = LIMIT_STORAGE.of(app)
    WORK_BUDGET.put(app, WorkBudget(settings_of(app).WORK_LIMIT, limiter, events))
