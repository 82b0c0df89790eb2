"""Drift and live accuracy as /metrics and /readyz show them (api/history/monitor.py), through the app."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import constants as c
from api.history.monitor import MIN_UNKNOWN_SAMPLES, Monitor, drift_of
from api.history.store import HistoryReadError
from model.serving import drift
from tests.e2e import wait_until
from tests.history.feedback_helpers import (
    WINDOW,
    mixed_tweets,
    monitored,  # noqa: F401 - fixture
    more_tokens,  # noqa: F401 - fixture
    positive_tweets,
    registry,  # noqa: F401 - fixture
    send,
)


def gauges(app, header):
    """Return {(metric name, model): value} of the monitor's gauges in /metrics."""
    text = app.test_client().get("/metrics", headers=header).get_data(as_text=True)
    return {
        (sample.name, sample.labels["model"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith(("sentiment_drift", "sentiment_live"))
        for sample in family.samples
    }


def freqlr_drift(app):
    """Return freqlr's entry of /readyz's drift, and the status of /readyz, after a fresh read."""
    # /readyz never waits: it shows the last read, which this one is.
    app.extensions[c.EXT_HISTORY].monitor.snapshot(wait=True)
    response = app.test_client().get("/readyz")
    (entry,) = [item for item in response.get_json()["drift"] if item["model"] == "freqlr"]
    return entry, response.status_code


def test_nothing_is_reported_below_the_minimum_window(monitored, more_tokens):  # noqa: F811
    send(monitored, more_tokens["alice"], mixed_tweets(drift.MIN_WINDOW - 10))
    entry, status = freqlr_drift(monitored)
    assert (status, entry["rows"]) == (200, drift.MIN_WINDOW - 10)
    assert {"psi", "unknown_share", "status"}.isdisjoint(entry)
    found = gauges(monitored, more_tokens["ops"])
    assert found[("sentiment_drift_window_rows", "freqlr")] == drift.MIN_WINDOW - 10
    assert ("sentiment_drift_psi", "freqlr") not in found


def test_the_reference_distribution_reads_ok_and_a_shifted_one_alerts_yet_readyz_stays_200(
    monitored,  # noqa: F811
    more_tokens,  # noqa: F811
):
    alice, ops = more_tokens["alice"], more_tokens["ops"]
    send(monitored, alice, mixed_tweets(WINDOW))  # the reference's very tweets
    entry, status = freqlr_drift(monitored)
    assert (status, entry["status"], entry["rows"]) == (200, "ok", WINDOW)
    assert entry["psi"] < 1e-3  # the same distribution, up to the reference's rounding
    reference_unknown = entry["reference_unknown_share"]
    assert entry["unknown_share"] == pytest.approx(reference_unknown, abs=0.05)

    shifted = positive_tweets(WINDOW)
    answers, client = {}, monitored.test_client()
    for key in shifted:  # one at a time: every tweet is sampled, and its P(Positive) kept for the check
        response = client.post("/api/v1/predict?detail=true", json={key: shifted[key]}, headers=alice)
        answers[key] = response.get_json()[key]["score"]
    monitored.extensions[c.EXT_HISTORY].flush()
    entry, status = freqlr_drift(monitored)
    reference = monitored.extensions[c.EXT_MODEL].infos["freqlr"]["reference"]
    by_hand = drift.psi(reference["shares"], drift.shares(answers.values()))
    assert (status, entry["status"]) == (200, "alert")
    assert entry["psi"] == pytest.approx(by_hand) and by_hand > drift.PSI_ALERT
    found = gauges(monitored, ops)
    assert found[("sentiment_drift_psi", "freqlr")] == pytest.approx(by_hand)
    assert found[("sentiment_drift_window_rows", "freqlr")] == WINDOW
    assert found[("sentiment_drift_reference_unknown_share", "freqlr")] == reference_unknown


def drift_entry(reference_unknown, scores, unknown):
    """Return drift_of for a uniform reference with ``reference_unknown``."""
    reference = drift.reference([(i + 0.5) / 100 for i in range(100)], [reference_unknown])
    return drift_of("m", "v", reference, scores, unknown)


def test_the_unknown_share_alerts_past_its_threshold_over_the_reference_and_needs_enough_samples():
    uniform = [(i + 0.5) / drift.MIN_WINDOW for i in range(drift.MIN_WINDOW)]
    past = 0.1 + drift.UNKNOWN_SHARE_ALERT + 0.01
    assert drift_entry(0.1, uniform, [past] * MIN_UNKNOWN_SAMPLES)["status"] == "alert"
    within = drift_entry(0.1, uniform, [0.1 + drift.UNKNOWN_SHARE_ALERT - 0.01] * MIN_UNKNOWN_SAMPLES)
    assert within["status"] == "ok"
    too_few = drift_entry(0.1, uniform, [past] * (MIN_UNKNOWN_SAMPLES - 1))
    assert "unknown_share" not in too_few and too_few["status"] == "ok"


def test_a_moderate_shift_is_a_warning():
    # A fifth of the window moved from the bottom tenth to the top one: PSI between the two thresholds.
    scores = [(i + 0.5) / 200 for i in range(200)]
    moved = [0.99 if s < 0.2 and i % 2 else s for i, s in enumerate(scores)]
    entry = drift_entry(0.0, moved, [])
    assert drift.PSI_WARNING < entry["psi"] < drift.PSI_ALERT
    assert entry["status"] == "warning"


class CountingStore:
    """A store whose reads are counted; ``fail`` makes them raise as a database that does not answer."""

    def __init__(self):
        self.reads = 0
        self.fail = False

    def live_accuracy(self, window):
        self.reads += 1
        if self.fail:
            raise HistoryReadError("history read failed: OperationalError")
        return {("freqlr", "v1"): (4, 0.75)}

    def drift_windows(self, served, window, scan):
        return {key: ([], []) for key in served}


def test_reads_are_kept_for_the_cache_period_and_a_failed_one_reports_nothing():
    store = CountingStore()
    monitor = Monitor(store, feedback_window=10, drift_window=10)
    first = monitor.snapshot()
    assert monitor.snapshot() is first and store.reads == 1
    assert first.accuracy == [{"model": "freqlr", "version": "v1", "feedback": 4, "accuracy": 0.75}]
    monitor.ttl = 0
    store.fail = True
    failed = monitor.snapshot()
    assert store.reads == 2
    assert (failed.ok, failed.accuracy, failed.drift) == (False, [], [])


def test_readyz_never_waits_for_a_read_it_starts_one_in_the_background():
    store = CountingStore()
    monitor = Monitor(store, feedback_window=10, drift_window=10)
    assert monitor.snapshot(wait=False) is None  # nothing read yet: /readyz shows no drift
    read = wait_until(lambda: monitor.snapshot(wait=False), "the background read")
    assert store.reads == 1
    assert read.accuracy[0]["accuracy"] == 0.75


def test_a_database_that_stays_down_is_logged_once_a_minute_not_at_every_read(caplog):
    store = CountingStore()
    store.fail = True
    monitor = Monitor(store, feedback_window=10, drift_window=10)
    monitor.ttl = 0
    with caplog.at_level("WARNING", logger="api.history.monitor"):
        for _ in range(3):
            assert not monitor.snapshot().ok
    assert store.reads == 3
    assert [r.getMessage() for r in caplog.records] == [
        "live accuracy and drift not read: history read failed: OperationalError"
    ]
