"""A job's rows spend its token's work budget, charged by the worker as it scores them.

Charged as the job runs, not when it is accepted: a job of any size is admitted (a window's budget
would otherwise cap a file's size), it runs no faster than the token's budget allows, and a cancelled
job has paid for what was scored only. The charge goes where the API counts the token's requests,
under the same key (api/workbudget.py, ``API_RATE_LIMIT_STORAGE``): with ``redis://`` a token's jobs
and requests share one budget across every machine; with ``memory://`` each process counts its own.

A chunk is paid for in parts (api/jobs/tasks.py) of at most SUB_BATCH_ROWS rows and never more than the
whole budget, so a chunk costlier than a window's budget is paid over several windows.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string

from api.settings import Settings
from api.workbudget import spend, storage_options

log = logging.getLogger(__name__)

# Rows scored between two looks at the job's state (a cancellation stops the chunk there), and
# paid for at once.
SUB_BATCH_ROWS = 1000


@dataclass(frozen=True)
class Part:
    """Rows ``start`` to ``end`` (excluded) of a chunk, and what scoring them costs."""

    start: int
    end: int
    cost: int


class RowTooCostly(Exception):
    """Row ``row`` (0-based in its chunk) costs more than the whole budget: no window can ever pay for it."""

    def __init__(self, row: int, cost: int) -> None:
        super().__init__(f"row {row} of the chunk costs {cost} work units")
        self.row = row
        self.cost = cost


def parts(texts: list[str], most: int, rows: int = SUB_BATCH_ROWS) -> Iterator[Part]:
    """Split ``texts`` into consecutive parts of at most ``rows`` rows costing at most ``most`` each."""
    start, cost = 0, 0
    for index, text in enumerate(texts):
        price = max(1, len(text))
        if price > most:
            raise RowTooCostly(index, price)
        if index - start == rows or cost + price > most:
            yield Part(start, index, cost)
            start, cost = index, 0
        cost += price
    if start < len(texts):
        yield Part(start, len(texts), cost)


class JobBudget:
    """The work budgets as a worker sees them: ``API_WORK_LIMIT`` in ``API_RATE_LIMIT_STORAGE``."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        """``storage``: where to count (tests); by default API_RATE_LIMIT_STORAGE's."""
        self.item: RateLimitItem = parse(settings.WORK_LIMIT)
        uri = settings.RATE_LIMIT_STORAGE
        # Synchronous: API_RATE_LIMIT_STORAGE never names an async:// storage (flask-limiter's are not).
        self.storage = storage or cast(Storage, storage_from_string(uri, **storage_options(uri)))
        self._fallback: Storage | None = None

    @property
    def amount(self) -> int:
        """Return the budget of one window: the most any one charge may cost."""
        return int(self.item.amount)

    def charge(self, key: str, cost: int) -> int:
        """Spend ``cost`` from ``key``'s budget; return what remains, or raise OverBudget (nothing spent)."""
        try:
            return spend(self.storage, self.item, key, cost)
        except StorageError:
            # As the API does: count in this process's memory while the shared storage is down.
            log.warning("work budget storage unreachable - counting in this worker's memory")
            return spend(self._memory(), self.item, key, cost)

    def _memory(self) -> Storage:
        """Return this worker's own memory storage, made when first needed."""
        if self._fallback is None:
            self._fallback = MemoryStorage()
        return self._fallback
