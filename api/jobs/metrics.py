"""The job workers' Prometheus metrics: rows scored, chunks by outcome, a chunk's time.

In a registry of the worker's own. Under the server (the embedded worker) the process inherits
PROMETHEUS_MULTIPROC_DIR, so prometheus_client writes these values to files there and the API's
``/metrics`` adds them up with its own. A worker on another machine serves them itself with
``--metrics-port`` (api/jobs/worker.py), on 127.0.0.1 unless told otherwise: a scraper on the same
machine, or a tunnel, reaches them; the network does not.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server

from api.constants import MULTIPROC_ENV

# What became of a chunk's task: scored; scored before (a redelivery, counted once); skipped (its job
# was no longer active); cancelled mid-chunk; deferred (the budget ran out: retried at its reset);
# failed (the job failed with it).
OUTCOMES = ("scored", "repeated", "skipped", "cancelled", "deferred", "failed")
# Seconds: a chunk of 5000 rows takes from a few tens of milliseconds to tens of seconds.
CHUNK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
DEFAULT_ADDRESS = "127.0.0.1"


class JobMetrics:
    """One worker's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.rows = Counter(
            "sentiment_job_rows_scored",
            "Rows of jobs scored by the workers (each row once).",
            registry=registry,
        )
        self.chunk_seconds = Histogram(
            "sentiment_job_chunk_seconds",
            "Time a worker took to score one chunk of a job, from its input to its output file.",
            buckets=CHUNK_BUCKETS,
            registry=registry,
        )
        self.chunks = Counter(
            "sentiment_job_chunks",
            "Chunk tasks run by the workers, by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.chunks.labels(outcome)  # every outcome shown from the start, at 0

    def serve(self, port: int, address: str = DEFAULT_ADDRESS) -> None:
        """Serve these metrics over HTTP on ``address``:``port`` from a thread (``--metrics-port``)."""
        start_http_server(port, addr=address, registry=self._exposed())

    def _exposed(self) -> CollectorRegistry:
        """Return what a scrape reads: every process's files in multiprocess mode, else this registry."""
        if not os.environ.get(MULTIPROC_ENV):
            return self.registry
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return combined
