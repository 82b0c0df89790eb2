"""Fair shares of a worker's CPU: scoring in slices, turns round robin between tokens, a cap in flight.

A gevent worker serves all its connections on one thread, and scoring is CPU
work that never yields: one request of 1000 long tweets held the event loop for
seconds, and every other client of the worker, probes included, waited behind
it. Scoring now runs in slices of about SLICE_SECONDS. Between two slices the
scorer first lets every greenlet with I/O ready run (new connections, TLS
handshakes, probes, small requests: ``gevent.idle``), then waits for its next
turn. Turns go round robin between tokens, not requests: a token with four
requests in flight gets one turn a round, as does a token with one, so a quiet
client waits for at most about one slice per busy token.

Under Gunicorn's gevent worker the standard library is patched before the app
is imported, so the locks and events here are gevent's. Outside it (the Flask
test client) no two requests run at once and a turn is always free.
"""

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from api import constants as c
from api.errors import APIError

# CPU time a scorer may hold the event loop before it gives others a turn. Measured with the
# tests' flood (tests/test_fairness_live.py): slices this short keep a quiet client's one-tweet
# predict and the probes fast, while the cost of the turns themselves (a pause and a hand-over,
# tens of microseconds) stays under 1% of a 1000-tweet request (make bench).
SLICE_SECONDS = 0.01


class TooManyInFlight(APIError):
    """The token already has API_MAX_IN_FLIGHT requests being served by this worker."""

    status = 429
    code = "too_many_in_flight"


def _io_pause() -> Callable[[], None]:
    """Return how a scorer lets ready I/O run: gevent.idle under gevent, a plain yield otherwise."""
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        import gevent

        return gevent.idle
    return lambda: time.sleep(0)


class Turn:
    """One scorer's hold on the CPU; ``pause_if_due`` hands it on once its slice is used up."""

    def __init__(self, turns: "CpuTurns", owner: str) -> None:
        self._turns = turns
        self.owner = owner
        self.holding = True
        self.started = time.perf_counter()

    def pause_if_due(self) -> None:
        """After SLICE_SECONDS of holding the turn: let I/O run, then wait for the next turn."""
        if time.perf_counter() - self.started < self._turns.slice_seconds:
            return
        self.holding = False
        self._turns.release()
        self._turns.pause()
        self._turns.acquire(self.owner)
        self.holding = True
        self.started = time.perf_counter()


class CpuTurns:
    """One worker's turns on the CPU and its count of requests in flight per token."""

    def __init__(
        self,
        max_in_flight: int,
        slice_seconds: float = SLICE_SECONDS,
        pause: Callable[[], None] | None = None,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.slice_seconds = slice_seconds
        self.pause = pause or _io_pause()
        self._lock = threading.Lock()
        self._busy = False
        # Owners waiting for a turn, in the order they will get it, each with its waiters in order.
        self._waiting: OrderedDict[str, deque[threading.Event]] = OrderedDict()
        self._last_served: str | None = None
        self._in_flight: Counter[str] = Counter()

    @contextmanager
    def admitted(self, owner: str) -> Iterator[None]:
        """Count a request of ``owner`` in flight while it runs, or raise TooManyInFlight."""
        with self._lock:
            if self._in_flight[owner] >= self.max_in_flight:
                raise TooManyInFlight(
                    f"{self.max_in_flight} requests of this token are already being served"
                    " (API_MAX_IN_FLIGHT); wait for one to finish",
                    headers={"Retry-After": "1"},
                )
            self._in_flight[owner] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[owner] -= 1
                if not self._in_flight[owner]:
                    del self._in_flight[owner]

    @contextmanager
    def turn(self, owner: str) -> Iterator[Turn]:
        """Hold a turn on the CPU for ``owner`` (waiting for it if another holds it); yield the Turn."""
        self.acquire(owner)
        turn = Turn(self, owner)
        try:
            yield turn
        finally:
            if turn.holding:
                self.release()

    def in_flight(self, owner: str) -> int:
        """Return how many requests of ``owner`` are being served."""
        with self._lock:
            return self._in_flight[owner]

    def waiting(self) -> int:
        """Return how many scorers are waiting for a turn."""
        with self._lock:
            return sum(len(queue) for queue in self._waiting.values())

    def acquire(self, owner: str) -> None:
        """Take the turn if it is free, else queue for it behind the owners not served last."""
        with self._lock:
            if not self._busy:
                self._busy = True
                self._last_served = owner
                return
            ready = threading.Event()
            if owner not in self._waiting:
                self._waiting[owner] = deque()
                # A newcomer goes before the owner served last, who has just had a turn.
                if self._last_served in self._waiting:
                    self._waiting.move_to_end(self._last_served)
            self._waiting[owner].append(ready)
        try:
            ready.wait()
        except BaseException:
            # Cut off while waiting (the request's deadline, a killed greenlet): never strand the turn.
            self._abandon(owner, ready)
            raise

    def release(self) -> None:
        """Hand the turn to the next owner in the round, or free it."""
        with self._lock:
            if not self._waiting:
                self._busy = False
                return
            owner, queue = next(iter(self._waiting.items()))
            ready = queue.popleft()
            if queue:
                self._waiting.move_to_end(owner)
            else:
                del self._waiting[owner]
            self._last_served = owner
        ready.set()  # the turn stays taken: it passes to that waiter

    def _abandon(self, owner: str, ready: threading.Event) -> None:
        """Leave the queue; if the turn was already handed to ``ready``, pass it on."""
        with self._lock:
            queue = self._waiting.get(owner)
            if queue is not None and ready in queue:
                queue.remove(ready)
                if not queue:
                    del self._waiting[owner]
                return
        self.release()


def init_app(app) -> None:
    """Give ``app`` (one per worker) its CPU turns and in-flight counts."""
    app.extensions[c.EXT_CPU_TURNS] = CpuTurns(app.config[c.MAX_IN_FLIGHT])
