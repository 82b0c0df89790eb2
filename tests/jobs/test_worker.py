"""The job worker: the tasks' Celery glue on an in-process worker, and `python -m api.jobs.worker` itself.

The process tests run the worker as the embedded server and `make jobs-worker` do, on the embedded
broker in tmp_path: its JSON log, its metrics port, its stop, a kill -9 mid-job, its parent's death.
"""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from api.jobs.celeryapp import FINISH_JOB, SCORE_CHUNK, broker_folders, make_celery
from api.jobs.errors import JobsUnavailable
from api.jobs.queue import JobQueue
from api.jobs.tasks import register
from tests.e2e import ROOT, free_port, wait_until
from tests.jobs.live import BROKER_URL
from tests.jobs.test_tasks import SECRET, expected_result, new_job, texts_of, worker_thread

# Deadlines for a slow machine, not speed requirements.
WORKER_TIMEOUT = 60


@pytest.fixture
def celery_worker(job_settings):
    """Yield (app, runner) with a solo worker consuming in a thread; stop it after the test."""
    app = make_celery(job_settings)
    runner = register(app, job_settings)
    with worker_thread(app):
        yield app, runner
    runner.store.dispose()


def test_jobs_run_through_celery_and_a_malformed_message_is_dropped(
    celery_worker, job_settings, job_store, job_files, make_job, caplog
):
    app, _ = celery_worker
    app.send_task(SCORE_CHUNK, kwargs={"job_id": "../../etc", "index": -1, "text": SECRET})
    app.send_task(FINISH_JOB, args=[SECRET])
    texts = texts_of(25)
    job = new_job(job_store, job_files, make_job, texts, 10)

    JobQueue(job_settings, app).enqueue(job.id, job.chunks_total)

    done = wait_until(lambda: (j := job_store.get(job.id)).state == "succeeded" and j, "job succeeded", 60)
    assert done.rows_done == 25
    assert job_files.result(job.id).read_text() == expected_result(job, texts, 10)
    dropped = [r.getMessage() for r in caplog.records if "malformed message dropped" in r.getMessage()]
    assert dropped == [
        "task sentiment.score_chunk: malformed message dropped"
        " (job_id: string_pattern_mismatch, index: greater_than_equal, an unknown field: extra_forbidden)",
        "task sentiment.finish_job: malformed message dropped (positional arguments)",
    ]
    assert SECRET not in caplog.text


class FailingModel:
    """A model whose scoring raises an error quoting the text, as a library's error might."""

    def log_odds(self, texts):
        """Raise ValueError with the first text in its message."""
        raise ValueError(f"cannot score {texts[0]!r}")


def test_an_unexpected_error_fails_the_job_and_the_log_names_its_kind_and_place_not_its_message(
    celery_worker, job_settings, job_store, job_files, make_job, caplog
):
    app, runner = celery_worker
    runner._model = lambda _job: FailingModel()
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)

    JobQueue(job_settings, app).enqueue(job.id, job.chunks_total)

    failed = wait_until(lambda: (j := job_store.get(job.id)).state == "failed" and j, "job failed", 60)
    assert failed.errors[0].endswith(": an internal error (ValueError); see the worker's log")
    assert failed.errors[0].startswith(("rows 1-10", "rows 11-20"))
    assert "sentiment.score_chunk failed: ValueError at test_worker.py:" in caplog.text
    assert SECRET not in caplog.text


def test_a_job_store_fault_is_retried_and_the_job_completes(
    celery_worker, job_settings, job_store, job_files, make_job, caplog
):
    app, runner = celery_worker
    get, faults = runner.store.get, []

    def flaky_get(job_id):
        """Fail the first read, as a database restarting would."""
        if not faults:
            faults.append(job_id)
            raise JobsUnavailable("the job database does not answer; retry later")
        return get(job_id)

    runner.store.get = flaky_get
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)

    JobQueue(job_settings, app).enqueue(job.id, job.chunks_total)

    wait_until(lambda: job_store.state(job.id) == "succeeded", "job succeeded after the fault", 60)
    assert job_store.get(job.id).rows_done == 20
    assert "sentiment.score_chunk failed (JobsUnavailable), try 1 of 30 in 1 s" in caplog.text


class WorkerProcess:
    """A `python -m api.jobs.worker` process on the settings of a test, its stdout and stderr in files."""

    def __init__(self, tmp_path, job_settings, *args, name="worker", env=None):
        self.stderr_path = tmp_path / f"{name}.err"
        self.stdout_path = tmp_path / f"{name}.out"
        variables = {
            **os.environ,
            "API_JOBS_DIR": str(job_settings.JOBS_DIR),
            "API_JOBS_DATABASE_URL": job_settings.JOBS_DATABASE_URL,
            "API_HISTORY_URL": "none",
            **(env or {}),
        }
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.jobs.worker", *args],
                cwd=ROOT,
                env=variables,
                stdout=out,
                stderr=err,
            )

    def records(self):
        """Return the log lines (stderr), each parsed as JSON; a line still being written is left out."""
        text = self.stderr_path.read_text()
        return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]

    def wait_ready(self):
        """Wait until the worker consumes; fail with its log if it exits first."""

        def ready():
            """Return whether the worker said it is ready; fail if it exited."""
            assert self.process.poll() is None, self.stderr_path.read_text()
            return any(r["message"].startswith("jobs worker ready") for r in self.records())

        wait_until(ready, "the worker ready", WORKER_TIMEOUT)
        return self

    def stop(self):
        """SIGTERM the worker; return its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(WORKER_TIMEOUT)

    def kill(self):
        """SIGKILL the worker and reap it."""
        self.process.kill()
        self.process.wait(WORKER_TIMEOUT)


def test_the_worker_process_runs_jobs_with_json_logs_naming_the_job_and_serves_its_metrics(
    tmp_path, job_settings, job_store, job_files, make_job
):
    port = free_port()
    worker = WorkerProcess(tmp_path, job_settings, "--metrics-port", str(port)).wait_ready()
    try:
        texts = texts_of(25)
        job = new_job(job_store, job_files, make_job, texts, 10)
        JobQueue(job_settings).enqueue(job.id, job.chunks_total)
        wait_until(lambda: job_store.state(job.id) == "succeeded", "the job done", WORKER_TIMEOUT)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        status = worker.stop()

    assert status == 0
    assert job_files.result(job.id).read_text() == expected_result(job, texts, 10)
    assert "sentiment_job_rows_scored_total 25.0" in metrics
    assert 'sentiment_job_chunks_total{outcome="scored"} 3.0' in metrics
    records = worker.records()  # every line JSON, or this fails
    finished = [
        r for r in records if r["message"].startswith(("Task sentiment.score_chunk", "Task sentiment.finish"))
    ]
    assert len([r for r in finished if " succeeded in " in r["message"]]) == 4
    assert {r["job_id"] for r in finished if " succeeded in " in r["message"]} == {job.id}
    assert SECRET not in worker.stderr_path.read_text() + worker.stdout_path.read_text()


def test_a_worker_killed_mid_job_loses_no_chunk_and_counts_each_once(
    tmp_path, job_settings, job_store, job_files, make_job
):
    texts = texts_of(3000)
    job = new_job(job_store, job_files, make_job, texts, 10)
    first = WorkerProcess(tmp_path, job_settings, name="first").wait_ready()
    JobQueue(job_settings).enqueue(job.id, job.chunks_total)
    claims = broker_folders(job_settings)["claims"]
    # Killed while it holds a message (between claiming it and acknowledging it), once it has scored some.
    wait_until(
        lambda: job_store.get(job.id).rows_done > 0 and list(claims.glob("*/*.msg")),
        "a chunk in the worker's hands",
        WORKER_TIMEOUT,
    )
    first.kill()
    held = list(claims.glob("*/*.msg"))
    assert job_store.get(job.id).rows_done < 3000

    second = WorkerProcess(tmp_path, job_settings, name="second").wait_ready()
    try:
        wait_until(lambda: job_store.state(job.id) == "succeeded", "the job done by the second worker", 120)
    finally:
        assert second.stop() == 0

    done = job_store.get(job.id)
    assert (done.rows_done, done.chunks_done) == (3000, 300)
    assert job_files.result(job.id).read_text() == expected_result(job, texts, 10)
    if held:  # the dead worker's claimed message went back to the queue
        assert "1 message(s) of a stopped worker put back in the queue" in second.stderr_path.read_text()
    assert list(claims.iterdir()) == []  # the second worker left no claim behind


def test_a_stopped_worker_puts_back_the_chunk_it_was_waiting_to_retry(
    tmp_path, job_settings, job_store, job_files, make_job
):
    # A budget far below the chunk: its first part is paid, the second waits for the next hour.
    worker = WorkerProcess(tmp_path, job_settings, env={"API_WORK_LIMIT": "100/hour"}).wait_ready()
    job = new_job(job_store, job_files, make_job, ["x" * 60] * 4, 10)
    JobQueue(job_settings).enqueue(job.id, job.chunks_total)
    wait_until(lambda: "waits 300 s for the work budget" in worker.stderr_path.read_text(), "deferred", 60)

    assert worker.stop() == 0

    queue = broker_folders(job_settings)["queue"]
    assert len(list(queue.glob("*.msg"))) == 1  # the retry, back in the queue: nothing lost
    assert list(broker_folders(job_settings)["claims"].iterdir()) == []
    assert job_store.get(job.id).state == "running"


def test_a_worker_that_cannot_reach_its_broker_says_so_without_the_password(tmp_path, job_settings):
    url = "amqp://guest:hunter2-not-logged@127.0.0.1:1//"  # a port nothing listens on
    worker = WorkerProcess(tmp_path, job_settings, env={"API_JOBS_BROKER_URL": url})
    log = worker.stderr_path

    wait_until(lambda: "Cannot connect to amqp://guest:**@127.0.0.1:1//" in log.read_text(), "retrying", 60)
    worker.kill()

    assert "hunter2" not in log.read_text() + worker.stdout_path.read_text()


# Celery warns when a worker is made as root (the test machine's user), which says nothing about the loop.
@pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")
def test_the_worker_reads_its_broker_without_celerys_event_loop(job_settings):
    # In the event loop a solo worker with one message at a time stalled up to 10 s between chunks on
    # RabbitMQ (api/jobs/worker.py, _without_event_loop; measured by tests/jobs/test_live_rabbitmq.py).
    from api.jobs.worker import _without_event_loop

    app = make_celery(job_settings.model_copy(update={"JOBS_BROKER_URL": BROKER_URL}))
    assert app.Worker(pool="solo", quiet=True).use_eventloop is True  # Celery's choice for RabbitMQ

    _without_event_loop(app)

    assert app.Worker(pool="solo", quiet=True).use_eventloop is False


def test_a_worker_with_a_bad_setting_says_which_and_exits_2(monkeypatch, capsys):
    from api.jobs.worker import main

    monkeypatch.setenv("API_JOBS_QUEUE", "no/slashes")

    assert main([]) == 2
    assert "API_JOBS_QUEUE" in capsys.readouterr().err
