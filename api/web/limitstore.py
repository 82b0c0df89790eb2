"""The rate limiter's in-memory storage (``API_RATE_LIMIT_STORAGE=memory://``), swept once a second.

limits' MemoryStorage starts a timer thread (a greenlet under gevent) to sweep expired counts
whenever the last one has finished, 10 ms after it started: up to a hundred thread starts a
second on a busy worker, 2% of a no-op request's time (make bench's profile). Counts are correct
without the sweep (an expired count is dropped when next read); the sweep only keeps memory
bounded, which one a second does as well.
"""

import threading
import time
from typing import Any

from limits.storage import MemoryStorage

# The scheme create_app gives flask-limiter for the operator's memory://.
SCHEME = "sentiment-memory"
SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """limits' MemoryStorage, sweeping expired counts at most every SWEEP_SECONDS."""

    # limits registers the class under this scheme when the class is made.
    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 - the base class declares it a list

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        self._swept_at = time.monotonic()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # The name MemoryStorage's own calls to its private __schedule_expiry resolve to.
    def _MemoryStorage__schedule_expiry(self) -> None:
        """Start a sweep if none ran for SWEEP_SECONDS (MemoryStorage starts one every 10 ms)."""
        now = time.monotonic()
        if now - self._swept_at < SWEEP_SECONDS or self.timer.is_alive():
            return
        self._swept_at = now
        self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
        self.timer.start()


def storage_uri(uri: str) -> str:
    """Return the URI flask-limiter opens for the setting ``uri``: memory:// becomes this module's."""
    return SCHEME + uri.removeprefix("memory") if uri.startswith("memory://") else uri
