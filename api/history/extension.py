"""The history as the Flask app uses it: ``init_app`` chooses the sink, ``History`` records and reads.

Under Gunicorn (which sets HISTORY_WRITER_SOCKET) the worker's queue hands its batches
to the server's writer process (api/history/client.py); elsewhere (the Flask test client,
``flask run``) a thread of this process inserts them into the store itself. Reads go to
the store in both cases.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from api import constants as c
from api.history.client import WriterClient
from api.history.monitor import Monitor
from api.history.queue import HistoryQueue, HistoryState, Sink, UnknownSample, sample_indexes
from api.history.store import Store
from api.settings import settings_of


class App(Protocol):
    """A Flask app, as far as this module needs one: the writer process imports it, and no Flask."""

    extensions: dict[str, Any]


class UnknownShares(Protocol):
    """A model, as far as the drift sample needs one (model/serving/base.py's TweetClassifier)."""

    def unknown_shares(self, texts: Sequence[str]) -> list[float]:
        """Return each tweet's share of tokens the model never saw."""
        ...


class History:
    """One worker's prediction history: requests queued for a sink, rows read from the store."""

    def __init__(self, queue: HistoryQueue, store: Store, monitor: Monitor) -> None:
        self.queue = queue
        self.store = store
        self.monitor = monitor

    def record(
        self,
        token: str,
        tweets: Mapping[str, str],
        scores: dict[str, list[float]],
        versions: dict[str, str],
        models: Mapping[str, UnknownShares] | None = None,
    ) -> None:
        """Queue one request's scored tweets (``{model: [log-odds]}``) for writing; never blocks or raises.

        With ``models`` (by name), the drift sample's unknown-token shares are computed here, on the
        request's path: a few tweets per model (api/history/queue.py's UNKNOWN_SAMPLE).
        """
        self.queue.record(token, tweets, scores, versions, _sample(tweets, scores, models))

    def recent(
        self, limit: int, token: str | None = None, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Return the newest ``limit`` rows below id ``before``, and the next ``before`` (Store.recent)."""
        return self.store.recent(limit, token, before)

    def state(self) -> HistoryState:
        """Describe the history for /readyz."""
        return self.queue.state()

    @property
    def failures(self) -> int:
        """Return how many of this process's writes (or hand-overs to the writer) failed."""
        return self.queue.sink.outcome.failures

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued request has been written or dropped (for tests and shutdown)."""
        self.queue.flush(timeout)

    def observe(self, on_failure: Callable[[], None], on_drop: Callable[[], None]) -> None:
        """Have failed writes and dropped requests call these (the app's metrics counters)."""
        self.queue.sink.outcome.on_failure = on_failure
        self.queue.on_drop = on_drop


def _sample(
    tweets: Mapping[str, str], scores: Mapping[str, list[float]], models: Mapping[str, UnknownShares] | None
) -> UnknownSample | None:
    """Return the request's drift sample: a few evenly spaced tweets, and each model's unknown shares."""
    if models is None:
        return None
    sampled = sample_indexes(len(tweets))
    texts = list(tweets.values())
    picked = [texts[i] for i in sampled]
    return sampled, {name: models[name].unknown_shares(picked) for name in scores}


def init_app(app: App) -> History | None:
    """Give ``app`` its prediction history, or None when API_HISTORY_URL is ``none``.

    A malformed URL or a missing driver stops start-up here; an unreachable
    database does not (predictions never depend on it).
    """
    settings = settings_of(app)
    if not settings.history_enabled:
        app.extensions[c.EXT_HISTORY] = None
        return None
    store = Store.from_settings(settings)
    writer_socket = settings.HISTORY_WRITER_SOCKET
    sink: Sink = WriterClient(writer_socket) if writer_socket else store
    monitor = Monitor(store, settings.FEEDBACK_WINDOW, settings.DRIFT_WINDOW)
    history = History(HistoryQueue(sink, store_text=settings.HISTORY_TEXT), store, monitor)
    app.extensions[c.EXT_HISTORY] = history
    return history


def of(app: App) -> History | None:
    """Return ``app``'s history, or None when it keeps none."""
    history: History | None = app.extensions.get(c.EXT_HISTORY)
    return history


def state(app: App) -> HistoryState:
    """Describe ``app``'s history for /readyz."""
    history: History | None = app.extensions.get(c.EXT_HISTORY)
    if history is None:
        return {"enabled": False, "ok": True, "failures": 0, "dropped": 0}
    return history.state()
