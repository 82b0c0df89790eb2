"""The job store: records kept whole, state changes only from active states, chunks counted once.

Each test runs against SQLite, the machine's MariaDB and its PostgreSQL, in a database of its own.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.history import store as history_store
from api.jobs.errors import JobsUnavailable
from api.jobs.jobs import MAX_ERRORS
from api.jobs.store import JobStore
from tests.history.helpers import fresh_database


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def job_store(request, job_settings):
    """A job store on an empty database: job_settings' SQLite file, or a fresh MariaDB or PostgreSQL one."""
    if request.param == "sqlite":
        store = JobStore.from_settings(job_settings)
        yield store
        store.dispose()
        return
    with fresh_database(request.param) as url:
        store = JobStore(url)
        yield store
        store.dispose()


def test_a_created_job_reads_back_equal(job_store, make_job):
    job = make_job(errors=["rows 1-10: bad"], detail=False, output_format="ndjson")
    job_store.create(job)
    assert job_store.get(job.id) == job
    assert job_store.get(job.id).created.tzinfo is not None  # aware UTC, as stored
    assert job_store.get("0" * 32) is None


def test_the_store_migrates_its_database_at_first_use(job_store, make_job):
    job_store.create(make_job())
    assert history_store.schema_is_current(job_store.engine, history_store.head_revision(job_store.url))
    assert {"jobs", "job_chunks"} <= set(sa.inspect(job_store.engine).get_table_names())


def test_start_moves_queued_to_running_and_sets_started_once(job_store, make_job):
    job = make_job()
    job_store.create(job)
    job_store.start(job.id)
    started = job_store.get(job.id)
    assert (started.state, started.started is not None) == ("running", True)
    job_store.start(job.id)  # the next chunk's start changes nothing
    assert job_store.get(job.id).started == started.started


def test_chunk_done_counts_a_chunk_once(job_store, make_job):
    job = make_job()
    job_store.create(job)
    assert job_store.chunk_done(job.id, 0, 10) is True
    assert job_store.chunk_done(job.id, 0, 10) is False  # its task ran twice
    assert job_store.chunk_done(job.id, 1, 10) is True
    done = job_store.get(job.id)
    assert (done.rows_done, done.chunks_done) == (20, 2)


def test_chunk_done_run_concurrently_counts_once(job_store, make_job):
    job = make_job()
    job_store.create(job)
    results = []
    barrier = threading.Barrier(4)

    def mark():
        barrier.wait(timeout=10)
        results.append(job_store.chunk_done(job.id, 2, 5))

    threads = [threading.Thread(target=mark) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
    assert (job_store.get(job.id).rows_done, job_store.get(job.id).chunks_done) == (5, 1)


def test_a_chunk_of_a_cancelled_job_is_not_counted(job_store, make_job):
    job = make_job()
    job_store.create(job)
    job_store.chunk_done(job.id, 0, 10)
    assert job_store.cancel(job.id) is True
    assert job_store.chunk_done(job.id, 1, 10) is False
    assert job_store.get(job.id).rows_done == 10
    assert job_store.chunk_done("f" * 32, 0, 10) is False  # no such job


def test_finish_only_from_an_active_state(job_store, make_job):
    job = make_job()
    job_store.create(job)
    assert job_store.finish(job.id, "succeeded") is True
    finished = job_store.get(job.id)
    assert (finished.state, finished.finished is not None) == ("succeeded", True)
    assert job_store.cancel(job.id) is False  # too late to cancel
    assert job_store.finish(job.id, "failed", error="rows 1-10: x") is False
    assert job_store.get(job.id) == finished  # nothing changed, no error noted
    with pytest.raises(ValueError, match="not a final state"):
        job_store.finish(job.id, "running")


def test_concurrent_finishes_have_one_winner(job_store, make_job):
    job = make_job(state="running")
    job_store.create(job)
    results = {}
    barrier = threading.Barrier(3)

    def end(state):
        barrier.wait(timeout=10)
        results[state] = job_store.finish(job.id, state)

    threads = [threading.Thread(target=end, args=(s,)) for s in ("succeeded", "failed", "cancelled")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [state for state, won in results.items() if won]
    assert len(results) == 3 and len(winners) == 1
    assert job_store.state(job.id) == winners[0]


def test_a_failed_job_keeps_its_error_and_at_most_max_errors(job_store, make_job):
    job = make_job()
    job_store.create(job)
    for number in range(MAX_ERRORS + 5):
        job_store.add_error(job.id, f"rows {number}: broken")
    assert job_store.finish(job.id, "failed", error="final") is True
    errors = job_store.get(job.id).errors
    assert errors == [f"rows {number}: broken" for number in range(MAX_ERRORS)]
    job_store.add_error("e" * 32, "no such job")  # quietly nothing


def test_a_long_error_is_cut(job_store, make_job):
    job = make_job()
    job_store.create(job)
    job_store.add_error(job.id, "x" * 10_000)
    assert 0 < len(job_store.get(job.id).errors[0]) < 10_000


def test_list_is_newest_first_and_filtered_by_owner(job_store, make_job):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [
        make_job(owner=owner, created=start + timedelta(minutes=minute))
        for minute, owner in enumerate(["alice", "bob", "alice", "carol"])
    ]
    for job in jobs:
        job_store.create(job)
    assert [job.id for job in job_store.list("alice")] == [jobs[2].id, jobs[0].id]
    assert [job.id for job in job_store.list(None)] == [job.id for job in reversed(jobs)]
    assert [job.id for job in job_store.list(None, limit=2)] == [jobs[3].id, jobs[2].id]
    assert job_store.list("dave") == []


def test_count_active_counts_queued_and_running_of_one_owner(job_store, make_job):
    states = ["queued", "running", "succeeded", "failed", "cancelled"]
    for state in states:
        job_store.create(make_job(state=state))
    job_store.create(make_job(owner="bob"))
    assert job_store.count_active("alice") == 2
    assert job_store.count_active("bob") == 1
    assert job_store.counts_by_state() == {"queued": 2, "running": 1, "succeeded": 1} | {
        "failed": 1,
        "cancelled": 1,
    }


def test_expired_and_delete(job_store, make_job):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = make_job(expires=now - timedelta(seconds=1))
    new = make_job(expires=now + timedelta(seconds=1))
    for job in (old, new):
        job_store.create(job)
    job_store.chunk_done(old.id, 0, 10)
    assert job_store.expired(now) == [old.id]
    job_store.delete(old.id)
    assert (job_store.get(old.id), job_store.state(old.id)) == (None, None)
    with job_store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM job_chunks")).scalar() == 0
    assert job_store.get(new.id) == new


def test_a_database_that_does_not_answer_is_jobs_unavailable(tmp_path, make_job):
    (tmp_path / "not-a-database").mkdir()
    store = JobStore(f"sqlite:///{tmp_path / 'not-a-database'}")
    try:
        with pytest.raises(JobsUnavailable) as raised:
            store.get("0" * 32)
        assert raised.value.status == 503
    finally:
        store.dispose()
