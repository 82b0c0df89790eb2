"""Fair shares of a worker's CPU: scoring in slices, turns round robin between tokens, a cap in flight.

A gevent worker serves all its connections on one thread, and scoring is CPU
work that never yields: one request of 1000 long tweets held the event loop for
seconds, and every other client of the worker, probes included, waited behind
it. Scoring now runs in slices of about SLICE_SECONDS. Between two slices the
scorer first lets every greenlet with I/O ready run (new connections, TLS
handshakes, probes, small requests: ``gevent.idle``), then waits for its next
turn. Turns go to tokens, not requests, by the CPU each token has had while it
has requests in flight (a virtual clock, as Linux's CFS keeps per task): the
waiting token that has had the least goes next, and a token that comes (back)
with work starts one slice ahead of the least served one. A token with four
requests in flight gets no more than a token with one, and a quiet client's
one-tweet request waits for about one slice, however many tokens are busy.

Under Gunicorn's gevent worker the standard library is patched before the app
is imported, so the locks and events here are gevent's. Outside it (the Flask
test client) no two requests run at once and a turn is always free.
"""

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable

from flask import Flask

from api import constants as c
from api.errors import APIError
from api.settings import settings_of
from api.web import extensions as ext

# CPU time a scorer may hold the event loop before it gives others a turn. Measured with the
# tests' flood (tests/web/test_fairness_live.py): slices this short keep a quiet client's one-tweet
# predict and the probes fast, while the cost of the turns themselves (a pause and a hand-over,
# tens of microseconds) stays under 1% of a 1000-tweet request (make bench).
SLICE_SECONDS = 0.01


class TooManyInFlight(APIError, code="too_many_in_flight", status=429):
    """The token already has API_MAX_IN_FLIGHT requests being served by this worker."""


def _io_pause() -> Callable[[], None]:
    """Return how a scorer lets ready I/O run: gevent.idle under gevent, a plain yield otherwise."""
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        import gevent

        idle: Callable[[], None] = gevent.idle
        return idle
    return lambda: time.sleep(0)


class Turn:
    """One scorer's hold on the CPU, as a context; ``pause_if_due`` hands it on once its slice is used up."""

    def __init__(self, turns: "CpuTurns", owner: str) -> None:
        self._turns = turns
        self.owner = owner
        self.holding = False
        self.started = 0.0

    def __enter__(self) -> "Turn":
        """Take the turn (waiting for it if another holds it)."""
        self._turns.acquire(self.owner)
        self.holding, self.started = True, time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Hand the turn on, unless a pause left it with another."""
        if self.holding:
            self._turns.release(self.owner, time.perf_counter() - self.started)

    def pause_if_due(self) -> None:
        """After SLICE_SECONDS of holding the turn: let I/O run, then wait for the next turn."""
        if time.perf_counter() - self.started < self._turns.slice_seconds:
            return
        # I/O first, the turn still held: a hand-over wakes the next scorer through a callback, and
        # gevent runs a chain of callbacks (up to 50 between two looks at the clock) before it polls
        # for I/O again, so slices handed straight on kept new connections and probes waiting for
        # 100-400 ms behind a few busy tokens (tests/web/test_fairness_live.py).
        self._turns.pause()
        self.holding = False
        self._turns.release(self.owner, time.perf_counter() - self.started)
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
        self._holder: str | None = None
        # Owners waiting for a turn, in the order they came (which breaks ties), each with its waiters.
        self._waiting: OrderedDict[str, deque[threading.Event]] = OrderedDict()
        # The virtual clock: CPU seconds each owner has had while it had requests in flight.
        self._used: dict[str, float] = {}
        self._in_flight: Counter[str] = Counter()

    def admitted(self, owner: str) -> "Admission":
        """Return a context that counts a request of ``owner`` in flight, or raises TooManyInFlight."""
        return Admission(self, owner)

    def turn(self, owner: str) -> Turn:
        """Return a context holding a turn on the CPU for ``owner`` (waiting for it); it gives the Turn."""
        return Turn(self, owner)

    def admit(self, owner: str) -> None:
        """Count a request of ``owner`` in flight, or raise TooManyInFlight."""
        with self._lock:
            if self._in_flight[owner] >= self.max_in_flight:
                raise TooManyInFlight(
                    f"{self.max_in_flight} requests of this token are already being served"
                    " (API_MAX_IN_FLIGHT); wait for one to finish",
                    headers={"Retry-After": "1"},
                )
            self._in_flight[owner] += 1

    def leave(self, owner: str) -> None:
        """Count a request of ``owner`` out of flight."""
        with self._lock:
            self._in_flight[owner] -= 1
            if not self._in_flight[owner]:
                del self._in_flight[owner]
                self._used.pop(owner, None)  # bounded: only owners with work in flight

    def in_flight(self, owner: str) -> int:
        """Return how many requests of ``owner`` are being served."""
        with self._lock:
            return self._in_flight[owner]

    def waiting(self) -> int:
        """Return how many scorers are waiting for a turn."""
        with self._lock:
            return sum(len(queue) for queue in self._waiting.values())

    def used(self, owner: str) -> float:
        """Return the virtual clock of ``owner``: the CPU seconds it has had while in flight."""
        with self._lock:
            return self._used.get(owner, 0.0)

    def acquire(self, owner: str) -> None:
        """Take the turn if it is free, else wait for it; the owner that has had the least CPU goes next."""
        with self._lock:
            self._start_clock(owner)
            if not self._busy:
                self._busy, self._holder = True, owner
                return
            ready = threading.Event()
            self._waiting.setdefault(owner, deque()).append(ready)
        try:
            ready.wait()
        except BaseException:
            # Cut off while waiting (the request's deadline, a killed greenlet): never strand the turn.
            self._abandon(owner, ready)
            raise

    def release(self, owner: str, seconds: float) -> None:
        """Charge ``owner`` the ``seconds`` it held the turn; hand the turn to the least served waiter."""
        with self._lock:
            self._used[owner] = self._used.get(owner, 0.0) + seconds
            if not self._waiting:
                self._busy, self._holder = False, None
                return
            # min() keeps the first of equals: ties go to the owner that came first.
            chosen = min(self._waiting, key=lambda name: self._used.get(name, 0.0))
            queue = self._waiting[chosen]
            ready = queue.popleft()
            if not queue:
                del self._waiting[chosen]
            self._holder = chosen
        ready.set()  # the turn stays taken: it passes to that waiter

    def _start_clock(self, owner: str) -> None:
        """Bring an owner that (re)turns with work to one slice ahead of the least served active owner.

        Ahead, so that a light client goes next; no further back, so that an owner that
        was away (reading a body, say) cannot claim the CPU it did not use meanwhile.
        """
        if owner == self._holder or owner in self._waiting:
            return
        active = [self._used.get(name, 0.0) for name in self._waiting]
        if self._holder is not None:
            active.append(self._used.get(self._holder, 0.0))
        if not active:
            self._used.setdefault(owner, 0.0)
            return
        start = min(active) - self.slice_seconds
        self._used[owner] = max(self._used.get(owner, start), start)

    def _abandon(self, owner: str, ready: threading.Event) -> None:
        """Leave the queue; if the turn was already handed to ``ready``, pass it on."""
        with self._lock:
            queue = self._waiting.get(owner)
            if queue is not None and ready in queue:
                queue.remove(ready)
                if not queue:
                    del self._waiting[owner]
                return
        self.release(owner, 0.0)


class Admission:
    """A request of ``owner`` in flight, as a context (classes, not generators: ~1 us less a use)."""

    def __init__(self, turns: CpuTurns, owner: str) -> None:
        self._turns = turns
        self._owner = owner

    def __enter__(self) -> None:
        """Count the request in, or raise TooManyInFlight."""
        self._turns.admit(self._owner)

    def __exit__(self, *exc_info: object) -> None:
        """Count it out."""
        self._turns.leave(self._owner)


# Where create_app keeps the app's CpuTurns.
CPU_TURNS: ext.Key[CpuTurns] = ext.Key(c.EXT_CPU_TURNS)


def init_app(app: Flask) -> None:
    """Give ``app`` (one per worker) its CPU turns and in-flight counts."""
    CPU_TURNS.put(app, CpuTurns(settings_of(app).MAX_IN_FLIGHT))
