"""Shared job fixtures: settings with their own jobs folder and SQLite database, a store, the files, a job."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api.jobs.files import JobFiles
from api.jobs.jobs import Job
from api.jobs.store import JobStore
from api.settings import Settings
from model.serving.artifacts import DEFAULT_DIR


@pytest.fixture
def job_settings(tmp_path):
    """Settings whose jobs live under tmp_path: files in jobs/, state in jobs.db; no history, no disk guard.

    The disk guard's own tests set JOBS_MIN_FREE_BYTES and fake the free space.
    """
    return Settings(
        ARTIFACTS_DIR=DEFAULT_DIR,
        HISTORY_URL="none",
        JOBS_DIR=tmp_path / "jobs",
        JOBS_DATABASE_URL=f"sqlite:///{tmp_path / 'jobs.db'}",
        JOBS_MIN_FREE_BYTES=0,
        JOBS_CHUNK_ROWS=10,
    )


@pytest.fixture
def job_store(job_settings):
    """The job store of job_settings (its tables made at first use), closed after the test."""
    store = JobStore.from_settings(job_settings)
    yield store
    store.dispose()


@pytest.fixture
def job_files(job_settings):
    """The job files of job_settings."""
    return JobFiles(job_settings.JOBS_DIR)


@pytest.fixture
def make_job():
    """Return a factory of queued jobs (a new id each), any field overridden by keyword."""

    def factory(**fields):
        """Return a Job; ``fields`` replace the defaults (owner alice, 25 rows in 3 chunks, created now)."""
        created = fields.pop("created", datetime.now(UTC))
        job = Job(
            id=uuid.uuid4().hex,
            owner="alice",
            budget_key="token:alice",
            state="queued",
            model="freqlr",
            model_version="v1",
            input_format="csv",
            output_format="csv",
            detail=True,
            text_column="text",
            id_column="id",
            rows_total=25,
            rows_done=0,
            chunks_total=3,
            chunks_done=0,
            created=created,
            started=None,
            finished=None,
            expires=created + timedelta(hours=24),
            errors=[],
        )
        return replace(job, **fields)

    return factory
