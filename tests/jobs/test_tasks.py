"""The job tasks' work: a chunk run twice counts once, finishing is idempotent, cancellation, model faults.

The runner (api/jobs/runner.py) is driven directly, its Celery retry replaced by a recorder. The helpers
here (a job of given texts, its expected result, a worker thread) serve the other job tests too; the
budget is tested in test_budget_jobs.py, the Celery glue and the worker process in test_worker.py.
"""

import logging
from contextlib import contextmanager
from dataclasses import replace

import pytest
from celery.contrib.testing.worker import start_worker
from limits.storage import MemoryStorage

from api.jobs.budget import SUB_BATCH_ROWS, JobBudget
from api.jobs.celeryapp import FINISH_JOB
from api.jobs.messages import FinishJob, ScoreChunk
from api.jobs.metrics import JobMetrics
from api.jobs.runner import ChunkRunner
from model.scoring.output import format_rows, header
from model.serving import artifacts

# Marks every text, so a test can look for it in logs and errors.
SECRET = "s3cr3t-tweet"
MODEL = "freqlr"


def texts_of(count, start=0):
    """Return ``count`` distinct texts, each carrying SECRET."""
    return [f"{'I love this' if i % 2 else 'awful day'} {SECRET} {i}" for i in range(start, start + count)]


def model_version(name=MODEL):
    """Return the served model's version, as the service records it on a job."""
    return str(artifacts.read_manifest(artifacts.DEFAULT_DIR)["models"][name]["version"])


def new_job(store, files, make_job, texts, chunk_rows, **fields):
    """Store a queued job of ``texts`` split into chunks of ``chunk_rows``; return it."""
    chunks = [texts[i : i + chunk_rows] for i in range(0, len(texts), chunk_rows)]
    job = make_job(
        model=MODEL, model_version=model_version(), rows_total=len(texts), chunks_total=len(chunks), **fields
    )
    files.create(job.id)
    for index, chunk in enumerate(chunks):
        first = index * chunk_rows + 1
        files.write_chunk_input(job.id, index, [str(first + i) for i in range(len(chunk))], chunk)
    store.create(job)
    return job


def expected_result(job, texts, chunk_rows):
    """Return the result a job must have: the header and every row, as `python -m model score` writes them."""
    model, _ = artifacts.load(artifacts.DEFAULT_DIR, MODEL)
    ids = [str(i + 1) for i in range(len(texts))]
    return header(job.output_format, job.detail) + format_rows(
        job.output_format, job.detail, ids, model.log_odds(texts)
    )


class Deferred(Exception):
    """What the recorder raises in place of Celery's Retry."""

    def __init__(self, paid, countdown):
        super().__init__(paid, countdown)
        self.paid = paid
        self.countdown = countdown


def defer(paid, countdown):
    """Stand in for the task's retry: raise Deferred with its arguments."""
    raise Deferred(paid, countdown)


@pytest.fixture
def sent():
    """The tasks the runner sends, as (name, kwargs)."""
    return []


@pytest.fixture
def runner(job_settings, job_store, job_files, sent):
    """A runner on the test's store and files, a budget in memory, sending into ``sent``."""
    budget = JobBudget(job_settings, storage=MemoryStorage())
    return ChunkRunner(
        job_settings, job_store, job_files, budget, JobMetrics(), lambda name, kw: sent.append((name, kw))
    )


def test_a_chunk_run_twice_writes_one_file_and_counts_once(runner, job_store, job_files, make_job):
    texts = texts_of(25)
    job = new_job(job_store, job_files, make_job, texts, 10)
    message = ScoreChunk(job_id=job.id, index=1)

    assert runner.score_chunk(message, defer) == "scored"
    first = job_files.chunk_output(job.id, 1).read_bytes()
    assert runner.score_chunk(message, defer) == "repeated"

    counted = job_store.get(job.id)
    assert (counted.state, counted.rows_done, counted.chunks_done) == ("running", 10, 1)
    assert sorted(path.name for path in job_files.folder(job.id).iterdir() if "out" in path.name) == [
        "out-000001.part"
    ]
    assert job_files.chunk_output(job.id, 1).read_bytes() == first
    assert runner.metrics.rows._value.get() == 10


def test_the_last_chunk_sends_finish_and_finishing_twice_changes_nothing(
    runner, job_store, job_files, make_job, sent
):
    texts = texts_of(25)
    job = new_job(job_store, job_files, make_job, texts, 10)
    for index in range(3):
        runner.score_chunk(ScoreChunk(job_id=job.id, index=index), defer)
    assert sent == [(FINISH_JOB, {"job_id": job.id, "faults": 0})]

    assert runner.finish_job(FinishJob(job_id=job.id)) == "finished"
    result = job_files.result(job.id).read_text()
    assert runner.finish_job(FinishJob(job_id=job.id)) == "skipped"

    assert job_store.get(job.id).state == "succeeded"
    assert result == expected_result(job, texts, 10)
    assert job_files.result(job.id).read_text() == result


def test_a_lost_finish_is_sent_again_when_the_last_chunk_is_redelivered(
    runner, job_store, job_files, make_job, sent
):
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)
    for index in range(2):
        runner.score_chunk(ScoreChunk(job_id=job.id, index=index), defer)
    sent.clear()  # the finish_job was lost (its worker killed before it ran)

    assert runner.score_chunk(ScoreChunk(job_id=job.id, index=1), defer) == "repeated"

    assert sent == [(FINISH_JOB, {"job_id": job.id, "faults": 0})]
    assert runner.finish_job(FinishJob(job_id=job.id)) == "finished"
    assert job_store.get(job.id).rows_done == 20


def test_finish_sent_early_waits_for_the_chunks(runner, job_store, job_files, make_job):
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)
    runner.score_chunk(ScoreChunk(job_id=job.id, index=0), defer)

    assert runner.finish_job(FinishJob(job_id=job.id)) == "skipped"
    assert job_store.get(job.id).state == "running"
    assert not job_files.result(job.id).exists()


class CancellingModel:
    """The real model, which cancels the job once it has scored its first part."""

    def __init__(self, model, store, job_id):
        self.model, self.store, self.job_id = model, store, job_id
        self.calls = 0

    def log_odds(self, texts):
        """Score ``texts``, then cancel the job (as DELETE /api/v1/jobs/<id> would meanwhile)."""
        self.calls += 1
        self.store.cancel(self.job_id)
        return self.model.log_odds(texts)


def test_cancellation_stops_a_running_chunk_at_its_next_sub_batch(runner, job_store, job_files, make_job):
    rows = 3 * SUB_BATCH_ROWS + 500
    job = new_job(job_store, job_files, make_job, texts_of(rows), rows)
    model = CancellingModel(artifacts.load(artifacts.DEFAULT_DIR, MODEL)[0], job_store, job.id)
    runner._model = lambda _job: model

    assert runner.score_chunk(ScoreChunk(job_id=job.id, index=0), defer) == "cancelled"

    assert model.calls == 1  # of the chunk's four parts, only the first was scored
    cancelled = job_store.get(job.id)
    assert (cancelled.state, cancelled.rows_done, cancelled.chunks_done) == ("cancelled", 0, 0)
    assert not job_files.chunk_output(job.id, 0).exists()


def test_a_cancelled_job_skips_its_queued_chunks(runner, job_store, job_files, make_job, sent):
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)
    job_store.cancel(job.id)

    assert runner.score_chunk(ScoreChunk(job_id=job.id, index=0), defer) == "skipped"
    assert not job_files.chunk_output(job.id, 0).exists()
    assert job_store.get(job.id).rows_done == 0
    assert sent == []


def test_a_model_retrained_since_submission_fails_the_job(runner, job_store, job_files, make_job):
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)
    job_store.delete(job.id)
    job_store.create(replace(job, model_version="v1-000000000000"))

    assert runner.score_chunk(ScoreChunk(job_id=job.id, index=0), defer) == "failed"

    failed = job_store.get(job.id)
    assert failed.state == "failed"
    assert failed.errors == [
        f"rows 1-10: the model 'freqlr' is now version {model_version()}; the job was submitted for"
        " v1-000000000000: submit it again"
    ]


def test_an_unusable_model_fails_the_job_without_server_paths(runner, job_store, job_files, make_job, caplog):
    job = new_job(job_store, job_files, make_job, texts_of(20), 10)
    job_store.delete(job.id)
    job_store.create(replace(job, model="nope"))

    with caplog.at_level(logging.ERROR):
        assert runner.score_chunk(ScoreChunk(job_id=job.id, index=1), defer) == "failed"

    assert job_store.get(job.id).errors == [
        "rows 11-20: the model 'nope' could not be loaded; see the worker's log"
    ]
    assert "model 'nope' unusable: model 'nope' is not in" in caplog.text  # the operator's detail


def replace_settings(settings, **fields):
    """Return ``settings`` with ``fields`` changed."""
    return settings.model_copy(update=fields)


@contextmanager
def worker_thread(app):
    """Run a solo worker for ``app`` in a thread, logging from INFO up (the level it sets is undone after)."""
    root = logging.getLogger()
    level = root.level
    try:
        with start_worker(app, pool="solo", loglevel="INFO", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        root.setLevel(level)
