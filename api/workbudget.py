"""The work budget's arithmetic, Flask-free: what scoring costs, and spending it in the limiter's storage.

Shared by the API (api/web/budget.py, per request) and the job workers (api/jobs/budget.py, per chunk),
so that both count a token's work under the same key, in the same units, with the same refusal: a
charge that would overrun the budget is given back, so refused work costs nothing.
"""

import math
import time
from collections.abc import Iterable
from typing import Any

from limits import RateLimitItem
from limits.storage import Storage

# The limiter scope the budget is counted under: key_for(SCOPE, "token:<name>").
SCOPE = "work"
# A storage that stops answering must not stall the caller: fail fast (the caller falls back to its
# memory), its errors as limits.errors.StorageError. Seconds, as redis takes them.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_timeout": 0.5,
    "socket_connect_timeout": 0.5,
    "wrap_exceptions": True,
}


class OverBudget(Exception):
    """Spending ``cost`` would overrun the budget; it was given back. ``retry_after``: seconds to reset."""

    def __init__(self, cost: int, remaining: int, limit: int, retry_after: int) -> None:
        super().__init__(f"work budget exceeded: {cost} wanted, {remaining} of {limit} remain")
        self.cost = cost
        self.remaining = remaining
        self.limit = limit
        self.retry_after = retry_after


def storage_options(uri: str) -> dict[str, Any]:
    """Return the options a limits storage at ``uri`` is opened with (the API's rate limiter's too)."""
    return dict(REDIS_OPTIONS) if uri.startswith(("redis://", "rediss://")) else {}


def text_cost(texts: Iterable[str]) -> int:
    """Return the cost of scoring ``texts`` with one model: their characters, at least 1 each."""
    return sum(max(1, len(text)) for text in texts)


def work_cost(texts: list[str], models: int) -> int:
    """Return the cost of scoring ``texts`` with ``models`` models: characters (1 at least) x models."""
    return models * text_cost(texts)


def spend(storage: Storage, item: RateLimitItem, key: str, cost: int) -> int:
    """Add ``cost`` to ``key``'s count in this window and return what remains of the budget.

    If that overran the budget, give it back and raise OverBudget.
    """
    name = item.key_for(SCOPE, key)
    used = storage.incr(name, item.get_expiry(), amount=cost)
    if used <= item.amount:
        return item.amount - used
    storage.incr(name, item.get_expiry(), amount=-cost)
    retry_after = max(1, math.ceil(storage.get_expiry(name) - time.time()))
    remaining = max(0, item.amount - (used - cost))
    raise OverBudget(cost, remaining, item.amount, retry_after)
