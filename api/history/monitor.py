"""Live accuracy and drift, read from the history database and kept for a few seconds.

Live accuracy: per model and version, the share of the newest API_FEEDBACK_WINDOW feedback rows
whose true label is the label the model gave. Drift: per served model and version, the newest
API_DRIFT_WINDOW stored rows against the held-out reference of its manifest entry
(model/serving/drift.py): the population stability index of their P(Positive), and their mean
share of unknown tokens (sampled rows only) beside the reference's. Below drift.MIN_WINDOW rows no
statistic is reported.

Both are read at most once per CACHE_SECONDS per process: /metrics reads them when stale (as the
job counts), /readyz never waits for the database: it shows what was last read and has a fresh
read made in the background.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from prometheus_client.core import GaugeMetricFamily, Metric

from api.history.errors import HistoryReadError
from api.history.outcome import Throttle
from api.history.reads import Served
from api.history.store import Store
from model.serving import drift

log = logging.getLogger(__name__)

# Seconds a read serves /metrics and /readyz before the database is asked again.
CACHE_SECONDS = 5.0
# The drift window is looked for among the newest SCAN_FACTOR x API_DRIFT_WINDOW rows of the table: a
# bounded walk down the primary key. A model that answers less than 1 row in SCAN_FACTOR reports less.
SCAN_FACTOR = 20
# Fewer sampled unknown shares than this in a window say nothing yet: no unknown share is reported.
MIN_UNKNOWN_SAMPLES = 20
# A full window's reading: past PSI_ALERT or UNKNOWN_SHARE_ALERT, past PSI_WARNING, or neither.
Status = Literal["alert", "warning", "ok"]

# The served models' references, by (model, version); a model without one reports no drift.
References = Callable[[], Mapping[Served, drift.Reference]]


class Accuracy(TypedDict):
    """Live accuracy of one model and version over the feedback window."""

    model: str
    version: str
    feedback: int
    accuracy: float


class Drift(TypedDict, total=False):
    """One served model and version's drift window; ``psi`` and ``status`` from drift.MIN_WINDOW rows on."""

    model: str
    version: str
    rows: int
    psi: float
    unknown_share: float
    reference_unknown_share: float
    status: Status


@dataclass(frozen=True)
class Snapshot:
    """What one read found; ``ok`` False when the database did not answer (then nothing else)."""

    taken: float
    ok: bool = True
    accuracy: list[Accuracy] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)


def drift_of(
    model: str, version: str, reference: drift.Reference, scores: list[float], unknown: list[float]
) -> Drift:
    """Return the drift of one window of P(Positive) and sampled unknown shares against ``reference``."""
    result: Drift = {"model": model, "version": version, "rows": len(scores)}
    if len(scores) < drift.MIN_WINDOW:
        return result
    psi = drift.psi(reference["shares"], drift.shares(scores))
    result["psi"] = psi
    result["reference_unknown_share"] = reference["unknown_share"]
    alert = psi > drift.PSI_ALERT
    if len(unknown) >= MIN_UNKNOWN_SAMPLES:
        share = math.fsum(unknown) / len(unknown)
        result["unknown_share"] = share
        alert = alert or share - reference["unknown_share"] > drift.UNKNOWN_SHARE_ALERT
    result["status"] = "alert" if alert else "warning" if psi > drift.PSI_WARNING else "ok"
    return result


class Monitor:
    """One process's view of live accuracy and drift, read from ``store`` at most every ``ttl`` seconds."""

    def __init__(self, store: Store, feedback_window: int, drift_window: int) -> None:
        self.store = store
        self.feedback_window = feedback_window
        self.drift_window = drift_window
        self.ttl = CACHE_SECONDS
        # Set by the app once its models are loaded (api/web/feedback.py).
        self.references: References = dict
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._background: threading.Thread | None = None
        self._warnings = Throttle(log)  # a database that is down: once a minute, not every read

    def snapshot(self, wait: bool = True) -> Snapshot | None:
        """Return the last read; a fresh one first if it is stale and ``wait``, else in the background."""
        current = self._snapshot
        if current is not None and time.monotonic() - current.taken < self.ttl:
            return current
        if wait:
            with self._lock:  # one read at a time; whoever waited uses the one just made
                current = self._snapshot
                if current is None or time.monotonic() - current.taken >= self.ttl:
                    current = self._snapshot = self._read()
            return current
        if self._background is None or not self._background.is_alive():
            self._background = threading.Thread(target=self.snapshot, name="history-monitor", daemon=True)
            self._background.start()
        return current

    def _read(self) -> Snapshot:
        """Read live accuracy and the drift windows; a database that does not answer gives ``ok`` False."""
        references = self.references()
        try:
            accuracy = self.store.live_accuracy(self.feedback_window)
            scan = SCAN_FACTOR * self.drift_window
            windows = self.store.drift_windows(references, self.drift_window, scan)
        except HistoryReadError as exc:
            self._warnings.warn("live accuracy and drift not read: %s", exc)
            return Snapshot(time.monotonic(), ok=False)
        return Snapshot(
            time.monotonic(),
            accuracy=[
                {"model": model, "version": version, "feedback": count, "accuracy": share}
                for (model, version), (count, share) in sorted(accuracy.items())
            ],
            drift=[
                drift_of(model, version, references[(model, version)], *windows[(model, version)])
                for model, version in sorted(windows)
            ],
        )


class MonitorCollector:
    """The monitor's gauges, read at each scrape of /metrics (in the worker that answers it)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        """Yield live accuracy, feedback counts and drift per model and version; none if unreadable."""
        labels = ["model", "version"]
        families = {
            "accuracy": GaugeMetricFamily(
                "sentiment_live_accuracy",
                "Share of the feedback window whose true label the model gave, by model and version.",
                labels=labels,
            ),
            "feedback": GaugeMetricFamily(
                "sentiment_live_feedback", "Feedback rows in the live accuracy window.", labels=labels
            ),
            "rows": GaugeMetricFamily(
                "sentiment_drift_window_rows", "Stored predictions in the drift window.", labels=labels
            ),
            "psi": GaugeMetricFamily(
                "sentiment_drift_psi",
                "Population stability index of the window's P(Positive) against the held-out reference.",
                labels=labels,
            ),
            "unknown_share": GaugeMetricFamily(
                "sentiment_drift_unknown_share",
                "Mean share of tokens the model never saw, over the window's sampled tweets.",
                labels=labels,
            ),
            "reference_unknown_share": GaugeMetricFamily(
                "sentiment_drift_reference_unknown_share",
                "The same share over the held-out split, from the model's manifest entry.",
                labels=labels,
            ),
        }
        snapshot = self.monitor.snapshot(wait=True)
        for item in [*snapshot.accuracy, *snapshot.drift] if snapshot is not None else []:
            for name, value in item.items():
                if name in families and isinstance(value, int | float):
                    families[name].add_metric([item["model"], item["version"]], value)
        yield from families.values()
