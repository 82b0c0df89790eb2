"""Retention on a frozen clock: expired jobs deleted with their files, nothing else; at most once a minute."""

import io
import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.jobs.retention import SWEEP_INTERVAL
from api.jobs.service import JobService, SubmitParams

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
CSV = b"id,text\n1,a tweet\n2,another\n"


@pytest.fixture
def service(job_settings, job_store, job_files):
    return JobService(job_settings, job_store, job_files, lambda job_id, chunks: None)


def _submit(service, owner="alice"):
    return service.submit(owner, f"token:{owner}", io.BytesIO(CSV), "text/csv", len(CSV), SubmitParams())


def test_a_sweep_deletes_only_expired_jobs_and_their_files(service, job_settings):
    period = timedelta(hours=job_settings.JOBS_RETENTION_HOURS)
    with time_machine.travel(START, tick=False) as clock:
        old = _submit(service)
        service.store.finish(old.id, "succeeded")
        clock.shift(timedelta(hours=1))
        young = _submit(service, owner="bob")
        assert old.expires == START + period
        # The moment before old's retention ends: nothing goes.
        clock.move_to(old.expires - timedelta(seconds=1))
        assert service.sweep(datetime.now(UTC), force=True) == 0
        clock.move_to(old.expires)
        assert service.sweep(datetime.now(UTC), force=True) == 1
    assert service.store.get(old.id) is None
    assert not service.files.folder(old.id).exists()
    assert service.store.get(young.id) == young
    assert service.files.read_chunk_input(young.id, 0) == (["1", "2"], ["a tweet", "another"])


def test_an_expired_active_job_is_cancelled_and_deleted(service):
    with time_machine.travel(START, tick=False) as clock:
        job = _submit(service)
        service.store.start(job.id)
        clock.move_to(job.expires + timedelta(minutes=1))
        assert service.sweep(datetime.now(UTC)) == 1
    assert (service.store.get(job.id), service.store.state(job.id)) == (None, None)
    assert service.files.job_ids() == []


def test_sweeps_run_at_most_once_a_minute_unless_forced(service):
    with time_machine.travel(START, tick=False):
        first = _submit(service)
        expired = first.expires  # every job made on this frozen clock expires then
        assert service.sweep(expired) == 1
        second = _submit(service)
        within = expired + SWEEP_INTERVAL - timedelta(seconds=1)
        assert service.sweep(within) == 0  # skipped: within a minute of the last sweep
        assert service.store.get(second.id) == second
        assert service.sweep(within, force=True) == 1
        third = _submit(service)
        assert service.sweep(within + SWEEP_INTERVAL) == 1  # a minute after the forced one
    assert [service.store.get(job.id) for job in (first, second, third)] == [None, None, None]


def test_a_folder_without_a_record_is_deleted_once_older_than_the_period(service, job_settings, make_job):
    orphan = "ab" * 16
    service.files.create(orphan)
    service.files.write_chunk_input(orphan, 0, ["1"], ["left by a crash"])
    period = timedelta(hours=job_settings.JOBS_RETENTION_HOURS)
    made = datetime.fromtimestamp(service.files.folder(orphan).stat().st_mtime, UTC)
    live = make_job(expires=made + 10 * period)
    service.store.create(live)
    service.files.create(live.id)
    os.utime(service.files.folder(live.id), (0, 0))  # a folder as old as can be, but with a record: kept
    # Folders' times are the file system's: a sweep's `now` past them ages them.
    assert service.sweep(made + period - timedelta(seconds=5), force=True) == 0
    assert service.files.folder(orphan).exists()
    assert service.sweep(made + period + timedelta(seconds=5), force=True) == 1
    assert service.files.job_ids() == [live.id]
