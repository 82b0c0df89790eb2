"""Prometheus metrics at ``/metrics``, summed over every Gunicorn worker.

Each app keeps its metrics in a registry of its own, never prometheus_client's
global one, so a process that builds many apps (the tests) never registers a
name twice. Under Gunicorn the workers are separate processes: with
PROMETHEUS_MULTIPROC_DIR set (the master sets it before any worker exists, see
api/server/multiproc.py), prometheus_client writes each worker's values to files in
that directory, and a scrape, whichever worker answers it, adds up the files
of every worker, those of workers that died included, so counts survive a
worker being replaced. Without it (the Flask test client, one process) a
scrape reads the app's own registry.

Labels are bounded: the URL rule (``/api/v1/predict``), never the raw path;
the method from a fixed set; the status code; model names and labels.
"""

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from api import constants as c
from api.jobs.errors import JobsUnavailable
from api.jobs.jobs import STATES
from api.settings import settings_of
from api.web.auth import auth, is_admin
from api.web.errors import error_response
from model.serving.labels import LABELS, label_of
from model.serving.registry import ModelInfo

# The classic text format: every Prometheus version reads it.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Requests that matched no URL rule (404, 405) share one label value: paths are the client's choice.
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: from a probe's ~1 ms to REQUEST_TIMEOUT (30 s), with detail where predictions fall.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

bp = Blueprint("metrics", __name__)


class Collector(Protocol):
    """What a scrape reads in the answering process: the job counts, the history's live statistics."""

    def collect(self) -> Iterable[Metric]:
        """Yield the metric families as they are now."""
        ...


class JobsCollector:
    """Jobs by state and the job queue's depth, read when scraped: the store and the broker know them.

    A gauge kept by the workers would be wrong after any of them died; asked at the scrape, they are
    exact. A store or broker that does not answer leaves its series out: the scrape never fails.
    """

    def __init__(self, counts: Callable[[], Mapping[str, int]], depth: Callable[[], int | None]) -> None:
        self._counts = counts
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        """Yield sentiment_jobs{state} and sentiment_job_queue_depth."""
        jobs = GaugeMetricFamily(
            "sentiment_jobs", "Jobs by state, read from the job store at each scrape.", labels=["state"]
        )
        try:
            counts = self._counts()
        except JobsUnavailable:
            counts = None  # no series rather than false zeros
        if counts is not None:
            for state in STATES:
                jobs.add_metric([state], counts.get(state, 0))
        yield jobs
        queue = GaugeMetricFamily(
            "sentiment_job_queue_depth", "Job tasks waiting on the broker, read from it at each scrape."
        )
        depth = self._depth()  # None when the broker does not say
        if depth is not None:
            queue.add_metric([], depth)
        yield queue


class Metrics:
    """One app's metrics, in a registry of its own."""

    def __init__(self, multiprocess: bool = False) -> None:
        """``multiprocess``: sum the metrics files of every worker (under Gunicorn), not this process's."""
        self.registry = registry = CollectorRegistry()
        self.multiprocess = multiprocess
        # Read at each scrape, in this process (api/web/jobs.py adds the job API's).
        self.collectors: list[Collector] = []
        # The labelled series a request updates, by their labels: bounded, as the labels are (URL rules,
        # METHODS and "other", status codes).
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._latencies: dict[str, Histogram] = {}
        self._scored: dict[tuple[str, str], Counter] = {}
        self.requests = Counter(
            "sentiment_http_requests",
            "Requests answered by the app, by URL rule, method and status.",
            ["endpoint", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "sentiment_http_request_duration_seconds",
            "Time the app took to answer, by URL rule.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.tweets = Counter(
            "sentiment_tweets_scored",
            "Tweets scored, by model and label.",
            ["model", "label"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "sentiment_rate_limited",
            "Requests refused by a rate limit (429), by URL rule.",
            ["endpoint"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "sentiment_auth_failures",
            "Requests refused for a missing, malformed, wrong or revoked bearer token (401).",
            registry=registry,
        )
        # Shared with the history writer process (api/history/writer.py), which counts its own.
        self.history_failures = Counter(*c.METRIC_HISTORY_FAILURES, registry=registry)
        self.history_dropped = Counter(
            "sentiment_history_dropped",
            "Requests left out of the history because the worker's queue of them was full.",
            registry=registry,
        )
        # An info metric as a gauge of 1: prometheus_client's Info does not work across processes.
        # livemax: a worker that exits takes its series with it (gunicorn.conf.py's child_exit).
        self.model_info = Gauge(
            "sentiment_model_info",
            "Served models: name, version and whether it is the default (value 1).",
            ["model", "version", "default"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        # Each worker reloads for itself (api/web/reload.py): one new manifest counts once per worker.
        self.model_reloads = Counter(
            "sentiment_model_reloads",
            "Attempts to load a changed artifacts manifest: ok (swapped in) or refused (old models kept).",
            ["outcome"],
            registry=registry,
        )

    def start(self) -> None:
        """Note when the request began."""
        g.metrics_started = time.perf_counter()

    def observe(self, response: Response) -> Response:
        """Count the answer and its latency under the request's URL rule."""
        current = request._get_current_object()  # type: ignore[attr-defined]
        rule = current.url_rule
        endpoint = rule.rule if rule is not None else UNMATCHED
        method = current.method
        status = response.status_code
        self._request_counter(endpoint, method if method in METHODS else "other", status).inc()
        started = g.get("metrics_started")
        if started is not None:
            self._latency_of(endpoint).observe(time.perf_counter() - started)
        # Every 429 is a limit's (requests, work budget, requests in flight); every 401 authentication's.
        if status == 429:
            self.rate_limited.labels(endpoint).inc()
        elif status == 401:
            self.auth_failures.inc()
        return response

    def _request_counter(self, endpoint: str, method: str, status: int) -> Counter:
        """Return the request counter of these labels, looked up once (labels() validates them each time)."""
        key = (endpoint, method, status)
        if key not in self._counters:
            self._counters[key] = self.requests.labels(endpoint, method, str(status))
        return self._counters[key]

    def count_tweets(self, model: str, label: str, count: int) -> None:
        """Count ``count`` tweets ``model`` labelled ``label`` (the series looked up once)."""
        key = (model, label)
        if key not in self._scored:
            self._scored[key] = self.tweets.labels(model, label)
        self._scored[key].inc(count)

    def _latency_of(self, endpoint: str) -> Histogram:
        """Return the latency histogram of an endpoint, looked up once."""
        if endpoint not in self._latencies:
            self._latencies[endpoint] = self.latency.labels(endpoint)
        return self._latencies[endpoint]

    def exposition(self) -> bytes:
        """Return every metric in Prometheus' text format: all workers' in multiprocess mode."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        # A fresh registry per scrape, as prometheus_client prescribes: it reads the files as they are now.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in self.collectors:
            registry.register(collector)
        return generate_latest(registry)

    def watch(self, collector: Collector) -> None:
        """Read ``collector`` at every scrape."""
        self.collectors.append(collector)
        if not self.multiprocess:
            self.registry.register(collector)


def count_scored(scores: Mapping[str, list[float]]) -> None:
    """Count one request's scored tweets by model and label; ``scores`` is ``{model: [log-odds]}``."""
    metrics: Metrics = current_app.extensions[c.EXT_METRICS]
    for model, model_scores in scores.items():
        labels = [label_of(score) for score in model_scores]
        for label in LABELS:
            count = labels.count(label)
            if count:  # every series exists from the start (attach): a 0 would only write the file
                metrics.count_tweets(model, label, count)


@bp.get("/metrics")
@auth.login_required
def scrape() -> Response:
    """Serve the metrics of every worker in Prometheus' text format; admin tokens only.

    Request counts, error rates and model versions tell an attacker what works
    and what is watched, and a scrape reads every worker's files: not for
    anonymous callers, nor for every client's token.
    """
    if not is_admin(auth.current_user()):
        return error_response(403, "metrics need a token with the admin flag", code="forbidden")
    return Response(current_app.extensions[c.EXT_METRICS].exposition(), content_type=CONTENT_TYPE)


def init_app(app: Flask) -> None:
    """Give ``app`` its metrics and count its requests; before the limiter's hooks, so 429s are timed too."""
    multiprocess = settings_of(app).PROMETHEUS_MULTIPROC_DIR is not None
    metrics = app.extensions[c.EXT_METRICS] = Metrics(multiprocess)
    app.before_request(metrics.start)
    app.after_request(metrics.observe)


def watch_jobs(app: Flask, counts: Callable[[], Mapping[str, int]], depth: Callable[[], int | None]) -> None:
    """Publish the jobs by state (``counts``) and the queue's depth (``depth``), read at each scrape."""
    app.extensions[c.EXT_METRICS].watch(JobsCollector(counts, depth))


def watch(app: Flask, collector: Collector) -> None:
    """Have ``app``'s scrapes read ``collector`` (api/history/monitor.py's live accuracy and drift)."""
    app.extensions[c.EXT_METRICS].watch(collector)


def attach(app: Flask) -> None:
    """Publish the served models' versions and count the history's failed writes (after both exist)."""
    metrics = app.extensions[c.EXT_METRICS]
    for info in app.extensions[c.EXT_MODEL].infos.values():
        metrics.model_info.labels(info["name"], info["version"], str(info["default"]).lower()).set(1)
        for label in LABELS:  # every series from the start, at 0: rates need a first sample
            metrics.tweets.labels(info["name"], label)
    for outcome in RELOAD_OUTCOMES:
        metrics.model_reloads.labels(outcome)
    history = app.extensions[c.EXT_HISTORY]
    if history is not None:
        history.observe(on_failure=metrics.history_failures.inc, on_drop=metrics.history_dropped.inc)


# The outcomes of a model reload (api/web/reload.py), every series from the start.
RELOAD_OUTCOMES = ("ok", "refused")


def count_reload(app: Flask, outcome: str) -> None:
    """Count one attempt to reload the models: ``ok`` or ``refused``."""
    app.extensions[c.EXT_METRICS].model_reloads.labels(outcome).inc()


def publish_models(app: Flask, old: Iterable[ModelInfo], new: Iterable[ModelInfo]) -> None:
    """After a reload: the versions this worker no longer serves go to 0, those it now serves to 1.

    0 rather than removed: in multiprocess mode a series lives in the worker's file; the livemax
    over the workers stays 1 while any worker still serves that version.
    """
    model_info = app.extensions[c.EXT_METRICS].model_info
    for info in old:
        model_info.labels(info["name"], info["version"], str(info["default"]).lower()).set(0)
    for info in new:
        model_info.labels(info["name"], info["version"], str(info["default"]).lower()).set(1)
