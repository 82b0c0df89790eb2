"""The live job tests' tools: Celery worker processes, a queue of their own, generated files, the job API.

Each test runs its own API server (tests/e2e.py running_server) and `python -m api jobs worker`
processes, each with its own log file, all on one unique RabbitMQ queue (API_JOBS_QUEUE), deleted at the
end, so that two test runs on one broker never take each other's messages.
"""

import csv
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from kombu import Connection

from tests.conftest import rabbitmq_problem
from tests.e2e import ROOT, Server, wait_until
from tests.samples import NEGATIVE, POSITIVE

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
WORKER_COMMAND = [sys.executable, "-m", "api", "jobs", "worker"]
# Rows per chunk (API_JOBS_CHUNK_ROWS), named here because the tests count in chunks.
CHUNK_ROWS = 5000
# Deadlines for a slow machine, not speed requirements.
WORKER_READY_TIMEOUT = 90
WORKER_STOP_TIMEOUT = 30
JOB_TIMEOUT = 300
BROKER_TIMEOUT = 10
# Texts that vary with the row, with commas, quotes and a non-ASCII character: CSV quoting and UTF-8.
EXTRAS = ["", ' "quoted", really', " café ☕", " #tag, again"]


def write_tweets_csv(path: Path, rows: int) -> Path:
    """Write ``rows`` tweets as id,text with ids 1..rows, one row per pass of a bounded loop."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "text"])
        for i in range(1, rows + 1):
            base = (POSITIVE if i % 2 else NEGATIVE)[i % 3]
            writer.writerow([i, f"{base} {i % 97}{EXTRAS[i % len(EXTRAS)]}"])
    return path


def sha256_of(path: Path) -> str:
    """Return the SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reference_score(source: Path, out: Path) -> str:
    """Score ``source`` with `python -m model score` (the reference a job must equal); return the SHA-256."""
    subprocess.run(
        [sys.executable, "-m", "model", "score", str(source), "-o", str(out), "-q"],
        cwd=ROOT,
        check=True,
        timeout=JOB_TIMEOUT,
    )
    return sha256_of(out)


def job_env(tmp: Path, queue: str, database_url: str | None = None) -> dict[str, str]:
    """The API_* variables the server and its workers share: broker, queue, job database and folder."""
    return {
        "API_JOBS_BROKER_URL": BROKER_URL,
        "API_JOBS_QUEUE": queue,
        "API_JOBS_DIR": str(tmp / "jobs"),
        "API_JOBS_DATABASE_URL": database_url or f"sqlite:///{tmp / 'jobs.db'}",
        "API_JOBS_CHUNK_ROWS": str(CHUNK_ROWS),
        "API_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}",
        # Far above what the tests score: the budget's arithmetic is tested in-process (tests/jobs/).
        "API_WORK_LIMIT": "1000000000/minute",
    }


def queue_counts(queue: str) -> tuple[int, int]:
    """Return (messages ready, consumers) of ``queue`` from the broker; (0, 0) while it does not exist."""
    with Connection(BROKER_URL, connect_timeout=BROKER_TIMEOUT) as conn:
        channel = conn.channel()
        try:
            _, messages, consumers = channel.queue_declare(queue, passive=True)
        except conn.channel_errors:
            return 0, 0  # not declared yet: no worker has started on it
        return messages, consumers


@contextmanager
def unique_queue() -> Iterator[str]:
    """Yield a queue name of this test's own; delete the queue and its exchange from the broker after."""
    problem = rabbitmq_problem()
    if problem:
        # Outside CI the rabbitmq marker skipped the test already; under CI a missing broker fails.
        pytest.fail(problem)
    queue = f"sentiment-jobs-test-{uuid.uuid4().hex[:12]}"
    try:
        yield queue
    finally:
        with Connection(BROKER_URL, connect_timeout=BROKER_TIMEOUT) as conn:
            for delete in ("queue_delete", "exchange_delete"):
                channel = conn.channel()  # a failed delete closes its channel: one each
                with suppress(*conn.channel_errors):  # never declared: nothing to delete
                    getattr(channel, delete)(queue)


@dataclass
class Worker:
    """One `python -m api jobs worker` process and its log."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Return what the worker has logged so far."""
        return self.log_path.read_text(errors="replace")

    def logged(self, text: str) -> bool:
        """Return whether the worker's log holds ``text`` (a job id, say)."""
        return text in self.log()

    def stop(self) -> None:
        """Stop the worker (SIGTERM: Celery's warm shutdown), then SIGKILL its group past the deadline."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)  # a test may have paused it
            self.process.terminate()
            try:
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class WorkerPool:
    """Worker processes on one queue, started and stopped to a count (see scale)."""

    tmp: Path
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)
    started: int = 0

    def scale(self, count: int) -> list[Worker]:
        """Run exactly ``count`` workers, each consuming from the queue before this returns."""
        while len(self.workers) > count:
            self.workers.pop().stop()
        while len(self.workers) < count:
            self.workers.append(self._start())
        queue = self.env["API_JOBS_QUEUE"]
        wait_until(
            lambda: queue_counts(queue)[1] == count, f"{count} consumers on {queue}", WORKER_READY_TIMEOUT
        )
        return list(self.workers)

    def _start(self) -> Worker:
        """Start one more worker, with a log file of its own (its Celery node name is its pid's)."""
        self.started += 1
        log_path = self.tmp / f"worker-{self.started}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                WORKER_COMMAND,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill -9 or a stop reaches nothing else
            )
        return Worker(process, log_path)

    def close(self) -> None:
        """Stop every worker."""
        while self.workers:
            self.workers.pop().stop()


def worker_pool(tmp: Path, env: dict[str, str]) -> AbstractContextManager[WorkerPool]:
    """A WorkerPool (no worker running until scaled) whose workers are stopped at the end of a with."""
    return closing(WorkerPool(tmp, env))


class JobClient:
    """The job API over HTTPS, as one token sees it; a file is sent and received in blocks."""

    def __init__(self, server: Server, token: str | None = None) -> None:
        self.server = server
        self.token = token or server.token

    def _connection(self) -> http.client.HTTPSConnection:
        """A new verified TLS connection to the server."""
        return http.client.HTTPSConnection(
            "localhost", self.server.port, context=self.server.context, timeout=60
        )

    def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """Send one request; return (status, headers, parsed JSON or None)."""
        conn = self._connection()
        try:
            conn.request(method, path, body, {"Authorization": f"Bearer {self.token}", **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            parsed = json.loads(data) if data else None
            return response.status, response.headers, parsed
        finally:
            conn.close()

    def submit(
        self, source: Path, content_type: str = "text/csv", chunked: bool = False, **params: str
    ) -> Any:
        """POST ``source`` as the raw body, streamed from the file; return (status, headers, body).

        ``chunked``: sent with Transfer-Encoding: chunked, no Content-Length (the size is not told).
        """
        query = f"?{urlencode(params)}" if params else ""
        headers = {"Content-Type": content_type}
        if not chunked:
            headers["Content-Length"] = str(source.stat().st_size)
        with open(source, "rb") as handle:
            body = iter(lambda: handle.read(1 << 16), b"") if chunked else handle
            return self._call("POST", f"/api/v1/jobs{query}", body, headers)

    def get(self, job_id: str) -> Any:
        """GET the job; return (status, body)."""
        status, _, body = self._call("GET", f"/api/v1/jobs/{job_id}")
        return status, body

    def job(self, job_id: str) -> dict[str, Any]:
        """Return the job's JSON (failing on any answer but 200)."""
        status, body = self.get(job_id)
        assert status == 200, (status, body)
        return body

    def jobs(self) -> Any:
        """GET the caller's jobs; return (status, body)."""
        status, _, body = self._call("GET", "/api/v1/jobs")
        return status, body

    def delete(self, job_id: str) -> Any:
        """DELETE the job; return (status, body)."""
        status, _, body = self._call("DELETE", f"/api/v1/jobs/{job_id}")
        return status, body

    def wait_final(self, job_id: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        """Poll the job until it is succeeded, failed or cancelled; return its JSON.

        Over one kept-alive connection: a TLS handshake per poll would take CPU from the timed runs.
        """
        kept = [self._connection()]
        try:
            return wait_until(lambda: _final(self._kept_get(kept, job_id)), f"job {job_id} finished", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the job now: {self.job(job_id)}") from None
        finally:
            kept[0].close()

    def _kept_get(self, kept: list[http.client.HTTPSConnection], job_id: str) -> dict[str, Any]:
        """GET the job's JSON over ``kept[0]``; if the server closed it, once more over a new one."""
        try:
            return self._get_on(kept[0], job_id)
        except (http.client.HTTPException, OSError):
            kept[0].close()
            kept[0] = self._connection()
            return self._get_on(kept[0], job_id)

    def _get_on(self, conn: http.client.HTTPSConnection, job_id: str) -> dict[str, Any]:
        """GET the job's JSON over ``conn`` (failing on any answer but 200)."""
        conn.request("GET", f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {self.token}"})
        response = conn.getresponse()
        status, body = response.status, json.loads(response.read())
        assert status == 200, (status, body)
        return body

    def download(self, job_id: str, out: Path) -> Any:
        """GET the job's result into ``out`` in blocks; return (status, headers)."""
        conn = self._connection()
        try:
            conn.request(
                "GET", f"/api/v1/jobs/{job_id}/result", headers={"Authorization": f"Bearer {self.token}"}
            )
            response = conn.getresponse()
            with open(out, "wb") as handle:
                for block in iter(lambda: response.read(1 << 16), b""):
                    handle.write(block)
            return response.status, response.headers
        finally:
            conn.close()


def _final(job: dict[str, Any]) -> dict[str, Any] | None:
    """Return the job if its state is final, else None."""
    return job if job["state"] in ("succeeded", "failed", "cancelled") else None
