"""A shadow model (API_SHADOW_MODEL): it scores a copy of each predict request's tweets after the answer
is sent, and counts how often its labels agree with those of the model that answered.

The copy is queued once the answer's body is written (Flask's ``call_on_close``); a bounded queue
(QUEUE_TWEETS tweets) that is full drops the request's copy, and counts it. A thread of the worker (a
greenlet under gevent) scores the queue in chunks of about CHUNK_SECONDS, yielding the CPU between
two: requests come before it, and the shadow's work is bounded by the queue, never by the traffic.
Requests answered by the shadow itself (``?model=<shadow>``, ``?model=all``) are not copied.
"""

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import Flask, Response
from prometheus_client import Counter

from api import constants as c
from api.web.extensions import Key
from model.errors import ArtifactError
from model.serving.chunks import score_in_chunks
from model.serving.labels import label_of
from model.serving.registry import ModelRegistry

# Tweets waiting for the shadow in one worker, at most: ~5.6 MB of text at the longest tweets.
QUEUE_TWEETS = 10_000
# The shadow's slices of CPU between two yields, as a request's (api/web/fairness.py).
CHUNK_SECONDS = 0.01


@dataclass(frozen=True)
class Copy:
    """One request's tweets and the log-odds of the model that answered them."""

    answered_by: str
    texts: Sequence[str]
    scores: Sequence[float]


class Shadow:
    """One worker's shadow model: its queue of copies, and the thread that scores them."""

    def __init__(
        self,
        registry: ModelRegistry,
        name: str,
        on_scored: Callable[[str, int, int], None],
        on_drop: Callable[[], None],
        capacity: int = QUEUE_TWEETS,
    ) -> None:
        """``on_scored(answered_by, agreed, disagreed)`` hears of each copy scored, ``on_drop()`` of drops."""
        if name not in registry.models:
            raise ArtifactError(
                f"API_SHADOW_MODEL={name!r} is not a served model: {', '.join(registry.models)}"
            )
        self.registry = registry
        self.name = name
        self.on_scored = on_scored
        self.on_drop = on_drop
        self.capacity = capacity
        self.queue: queue.Queue[Copy] = queue.Queue()
        self.queued = 0  # tweets
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def after(self, response: Response, tweets: Mapping[str, str], scores: Mapping[str, list[float]]) -> None:
        """Offer a copy of the request once ``response`` is sent, unless the shadow answered it itself."""
        if len(scores) != 1 or self.name in scores:
            return
        ((answered_by, answered),) = scores.items()
        texts = list(tweets.values())
        response.call_on_close(lambda: self.offer(Copy(answered_by, texts, answered)))

    def offer(self, copy: Copy) -> bool:
        """Queue ``copy`` if it fits, else drop and count it; never blocks. Returns whether it was queued."""
        with self._lock:
            fits = self.queued + len(copy.texts) <= self.capacity
            if fits:
                self.queued += len(copy.texts)
                self.queue.put_nowait(copy)
        if not fits:
            self.on_drop()
            return False
        self._ensure_started()
        return True

    def score_next(self, timeout: float | None = None) -> bool:
        """Score the next queued copy (waiting up to ``timeout``); False if none came."""
        try:
            copy = self.queue.get(timeout=timeout)
        except queue.Empty:
            return False
        try:
            model = self.registry.current().models[self.name]  # the shadow as now served
            shadowed = score_in_chunks(model.log_odds, list(copy.texts), CHUNK_SECONDS, _yield)
            agreed = sum(label_of(a) == label_of(b) for a, b in zip(copy.scores, shadowed, strict=True))
            self.on_scored(copy.answered_by, agreed, len(copy.texts) - agreed)
        finally:
            with self._lock:
                self.queued -= len(copy.texts)
            self.queue.task_done()
        return True

    def _run(self) -> None:
        """Score copies for the life of the process."""
        while True:
            self.score_next()

    def _ensure_started(self) -> None:
        """Start the thread at the first copy: a worker that never predicts holds none."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shadow-model", daemon=True)
                self._thread.start()


def _yield() -> None:
    """Give the CPU to the other greenlets (requests) between two chunks: a no-op outside gevent."""
    time.sleep(0)


SHADOW: Key[Shadow | None] = Key("sentiment_shadow")


def init_app(app: Flask, registry: ModelRegistry, name: str | None) -> None:
    """Give ``app`` its shadow model ``name`` (None: none); ArtifactError if it is not a served model."""
    if name is None:
        SHADOW.put(app, None)
        return
    registry_of_metrics = app.extensions[c.EXT_METRICS].registry
    agreement = Counter(
        "sentiment_shadow_agreement",
        "Tweets the shadow model scored after the answering model, by whether their labels agree.",
        ["model", "shadow", "agree"],
        registry=registry_of_metrics,
    )
    dropped = Counter(
        "sentiment_shadow_dropped",
        "Requests not copied to the shadow model because its queue was full.",
        registry=registry_of_metrics,
    )
    for answering in registry.models:
        if answering != name:  # every series from the start, at 0
            for agree in ("true", "false"):
                agreement.labels(answering, name, agree)

    def scored(answered_by: str, agreed: int, disagreed: int) -> None:
        """Count one copy's agreements and disagreements."""
        agreement.labels(answered_by, name, "true").inc(agreed)
        agreement.labels(answered_by, name, "false").inc(disagreed)

    SHADOW.put(app, Shadow(registry, name, scored, dropped.inc))
