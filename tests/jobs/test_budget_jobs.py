"""A job's rows spend its token's work budget: in parts, each row once, retried at the window's reset.

The runner is driven directly (its retry recorded) and through Celery on an in-process worker; the
budget's key and arithmetic are the API's own, checked against a real Redis the API counts in too.
"""

import pytest
from limits.storage import MemoryStorage

from api.jobs.budget import SUB_BATCH_ROWS, JobBudget, RowTooCostly, parts
from api.jobs.celeryapp import make_celery
from api.jobs.files import JobFiles
from api.jobs.messages import ScoreChunk
from api.jobs.metrics import JobMetrics
from api.jobs.queue import JobQueue
from api.jobs.runner import ChunkRunner
from api.jobs.store import JobStore
from api.jobs.tasks import register
from tests.e2e import wait_until
from tests.jobs.test_tasks import (
    SECRET,
    Deferred,
    defer,
    expected_result,
    new_job,
    replace_settings,
    texts_of,
    worker_thread,
)
from tests.web.test_redis_limits import redis_server


def test_parts_hold_at_most_a_sub_batch_and_cost_at_most_the_budget():
    assert [(p.start, p.end, p.cost) for p in parts(["ab"] * 2500, most=10**9)] == [
        (0, 1000, 2000),
        (1000, 2000, 2000),
        (2000, 2500, 1000),
    ]
    # An empty text costs 1, as a request's does; a part stops before the row that would overrun.
    assert [(p.start, p.end, p.cost) for p in parts(["", "abcd", "ab", "abcd"], most=5)] == [
        (0, 2, 5),
        (2, 3, 2),
        (3, 4, 4),
    ]
    assert [(p.start, p.end, p.cost) for p in parts(["a", "b", "c"], most=2)] == [(0, 2, 2), (2, 3, 1)]
    with pytest.raises(RowTooCostly) as too_costly:
        list(parts(["a", "abcdef"], most=5))
    assert (too_costly.value.row, too_costly.value.cost) == (1, 6)


def paid_charges(budget):
    """Return the list of the costs ``budget`` accepts from now on (a refused charge costs nothing)."""
    paid = []
    charge = budget.charge

    def recording(key, cost):
        """Charge, then note what was paid."""
        remaining = charge(key, cost)
        paid.append(cost)
        return remaining

    budget.charge = recording
    return paid


def test_an_exhausted_budget_defers_the_chunk_to_its_reset_and_each_row_is_paid_once(
    job_settings, job_store, job_files, make_job
):
    # 10 rows of 30 characters, a budget of 100 a minute: parts of 3 rows (90), and one of 1 row (30),
    # each window paying for one more part than the last could.
    settings = replace_settings(job_settings, WORK_LIMIT="100/minute")
    storage = MemoryStorage()
    budget = JobBudget(settings, storage)
    charges = paid_charges(budget)
    runner = ChunkRunner(settings, job_store, job_files, budget, JobMetrics(), lambda *a: None)
    texts = [f"{i:02d}" + "x" * 28 for i in range(10)]
    job = new_job(job_store, job_files, make_job, texts, 10, budget_key="token:alice")
    paid, deferrals = 0, []
    for _ in range(10):  # bounded: the chunk needs 4 windows
        try:
            assert runner.score_chunk(ScoreChunk(job_id=job.id, index=0, paid=paid), defer) == "scored"
            break
        except Deferred as deferred:
            deferrals.append(deferred)
            assert job_store.get(job.id).state == "running"
            assert not job_files.chunk_output(job.id, 0).exists()
            paid = deferred.paid
            storage.reset()  # the window starts anew
    assert [d.paid for d in deferrals] == [3, 6, 9]
    assert all(1 <= d.countdown <= 60 for d in deferrals)
    assert charges == [90, 90, 90, 30]  # each row paid once
    assert job_store.get(job.id).rows_done == 10
    assert runner.metrics.chunks.labels("deferred")._value.get() == 3


def test_a_chunk_costlier_than_the_whole_budget_is_paid_in_parts(
    job_settings, job_store, job_files, make_job
):
    # 5000 rows of 560 characters = 2.8M, more than the default budget of 2M a window.
    settings = replace_settings(job_settings, WORK_LIMIT="2000000/minute")
    storage = MemoryStorage()
    budget = JobBudget(settings, storage)
    charges = paid_charges(budget)
    runner = ChunkRunner(settings, job_store, job_files, budget, JobMetrics(), lambda *a: None)
    texts = ["y" * 560] * 5000
    job = new_job(job_store, job_files, make_job, texts, 5000)

    with pytest.raises(Deferred) as deferred:
        runner.score_chunk(ScoreChunk(job_id=job.id, index=0), defer)
    storage.reset()
    assert runner.score_chunk(ScoreChunk(job_id=job.id, index=0, paid=deferred.value.paid), defer) == "scored"

    assert sum(charges) == 5000 * 560  # every row paid once, over two windows
    assert max(charges) <= SUB_BATCH_ROWS * 560


def test_a_row_costlier_than_the_whole_budget_fails_the_job_naming_it(
    job_settings, job_store, job_files, make_job, caplog
):
    settings = replace_settings(job_settings, WORK_LIMIT="100/minute")
    runner = ChunkRunner(
        settings, job_store, job_files, JobBudget(settings, MemoryStorage()), JobMetrics(), lambda *a: None
    )
    texts = texts_of(14)
    texts[12] = SECRET + "z" * 150
    job = new_job(job_store, job_files, make_job, texts, 10)

    assert runner.score_chunk(ScoreChunk(job_id=job.id, index=1), defer) == "failed"

    failed = job_store.get(job.id)
    assert failed.state == "failed"
    assert failed.errors == [
        "rows 11-14: row 13 costs 162 work units (characters), more than the whole work budget of"
        " 100 per 1 minute: no window can pay for it"
    ]
    assert SECRET not in caplog.text


def test_celery_retries_a_deferred_chunk_and_the_job_completes(tmp_path, job_settings, make_job, caplog):
    # A budget of 200 characters a second: a 10-row chunk of 40-character rows takes two windows.
    settings = replace_settings(job_settings, WORK_LIMIT="200/second")
    app = make_celery(settings)
    store, files = JobStore.from_settings(settings), JobFiles(settings.JOBS_DIR)
    runner = register(app, settings)
    texts = [f"{i:02d} {SECRET} " + "w" * 24 for i in range(10)]
    job = new_job(store, files, make_job, texts, 10)
    with worker_thread(app):
        JobQueue(settings, app).enqueue(job.id, job.chunks_total)
        wait_until(lambda: store.state(job.id) == "succeeded", "job succeeded after its retries", 60)
    assert runner.metrics.chunks.labels("deferred")._value.get() >= 1
    assert store.get(job.id).rows_done == 10
    assert files.result(job.id).read_text() == expected_result(job, texts, 10)
    assert SECRET not in caplog.text
    store.dispose()
    runner.store.dispose()


@pytest.mark.redis
def test_a_jobs_chunks_and_its_tokens_requests_spend_one_budget(make_app, auth_header, job_settings):
    with redis_server() as (url, _):
        app = make_app(RATE_LIMIT_STORAGE=url, WORK_LIMIT="1000/minute")
        budget = JobBudget(replace_settings(job_settings, RATE_LIMIT_STORAGE=url, WORK_LIMIT="1000/minute"))
        client = app.test_client()

        assert budget.charge("token:alice", 700) == 300  # a worker scored 700 characters of alice's job

        refused = client.post("/api/v1/predict", json={"t1": "x" * 400}, headers=auth_header)
        served = client.post("/api/v1/predict", json={"t1": "x" * 300}, headers=auth_header)

    assert (refused.status_code, refused.headers["X-Work-Remaining"]) == (429, "300")
    assert (served.status_code, served.headers["X-Work-Remaining"]) == (200, "0")
