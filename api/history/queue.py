"""A worker's history queue: requests recorded off the critical path, drained by a thread into a sink.

A request only puts one Record on a bounded in-memory queue (``record``); a background
thread per worker (a greenlet under Gunicorn's gevent workers) drains it, a batch of
queued requests at a time, into its sink. A sink that is slow, down or full therefore
never delays or fails a prediction: the sink counts and logs its failure
(api/history/outcome.py), and /readyz reports ``"history": {"ok": false, ...}`` until a
write succeeds again.

The sink is the server's history writer process (api/history/client.py) under Gunicorn,
else a store in this process (api/history/store.py): the queue does not know which.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypedDict

from api.history.messages import Record
from api.history.outcome import Outcome, Throttle, WriteState, nothing

log = logging.getLogger(__name__)

# Rows (one per tweet and model) waiting per worker to be written; a request that would go beyond
# is dropped (and counted) rather than holding memory while the database or the writer is slow.
# About 100 bytes a row (an estimate, not measured): ~20 MB. Counted in rows, not requests, so
# that memory is bounded whatever the requests' size; enough for a ~5 s burst of 100-tweet
# requests on two cores while the low-priority history writer waits (see README).
QUEUE_ROWS = 200_000
# Queued requests merged into one write.
BATCH_REQUESTS = 50
# Tweets per request and model whose share of unknown tokens is stored (the drift monitor's input):
# evenly spaced, so a request costs the same few model look-ups whatever its size.
UNKNOWN_SAMPLE = 8

# A request's drift sample: the indexes of its sampled tweets, and {model: [unknown share per sampled tweet]}.
UnknownSample = tuple[list[int], dict[str, list[float]]]


def sample_indexes(count: int) -> list[int]:
    """Return the indexes of at most UNKNOWN_SAMPLE tweets, evenly spaced, out of ``count``."""
    taken = min(count, UNKNOWN_SAMPLE)
    return [i * count // taken for i in range(taken)]


class Sink(Protocol):
    """Where the queue's batches go: a Store, or a WriterClient of the writer process."""

    outcome: Outcome

    def insert(self, records: Sequence[Record]) -> bool:
        """Take a batch of records; return False (counted in ``outcome``) if they were lost."""
        ...

    def state(self) -> WriteState:
        """Describe the writes for /readyz."""
        ...


class HistoryState(TypedDict):
    """The ``history`` of /readyz."""

    enabled: bool
    ok: bool
    failures: int
    dropped: int


class HistoryQueue:
    """A bounded queue of records and the lazily started thread that drains it into ``sink``."""

    def __init__(self, sink: Sink, store_text: bool = False) -> None:
        self.sink = sink
        self.store_text = store_text
        self.capacity = QUEUE_ROWS
        self.queue: queue.Queue[Record] = queue.Queue()
        self.queued_rows = 0
        self.dropped = 0
        # Called for each request dropped from a full queue; api/web/metrics.py points it at its counter.
        self.on_drop: Callable[[], None] = nothing
        self._lock = threading.Lock()
        self._warnings = Throttle(log)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def record(
        self,
        token: str,
        tweets: Mapping[str, str],
        scores: dict[str, list[float]],
        versions: dict[str, str],
        unknown: UnknownSample | None = None,
    ) -> None:
        """Queue one request's scored tweets for writing; never blocks, never raises.

        ``scores`` is ``{model: [log-odds per tweet]}``, ``versions`` ``{model: version}``,
        ``unknown`` the request's drift sample, if any.
        """
        texts = list(tweets.values()) if self.store_text else None
        sampled, shares = unknown if unknown is not None else (None, None)
        item = Record(datetime.now(UTC), token, list(tweets), texts, scores, versions, sampled, shares)
        self._ensure_started()
        with self._lock:
            full = self.queued_rows + item.row_count > self.capacity
            if not full:
                self.queued_rows += item.row_count
                self.queue.put_nowait(item)
        if full:
            self.dropped += 1
            self.on_drop()
            self._warnings.warn("history queue full: request not recorded (%d dropped so far)", self.dropped)

    def state(self) -> HistoryState:
        """Describe the history for /readyz: the sink's writes, and the requests this queue dropped."""
        return {"enabled": True, **self.sink.state(), "dropped": self.dropped}

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued request has been written or dropped (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"history not flushed within {timeout}s")
            time.sleep(0.01)

    def _ensure_started(self) -> None:
        """Start the thread on first use: a worker that never predicts holds no thread or connection."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="history-queue", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        """Drain the queue forever, one write per batch of queued requests."""
        while True:
            batch = self._take()
            try:
                self.sink.insert(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _take(self) -> list[Record]:
        """Wait for a request; return it with those queued behind it, BATCH_REQUESTS at most."""
        batch = [self.queue.get()]
        while len(batch) < BATCH_REQUESTS:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            # Out of the queue: the batch in hand is bounded by BATCH_REQUESTS instead.
            self.queued_rows -= sum(item.row_count for item in batch)
        return batch
