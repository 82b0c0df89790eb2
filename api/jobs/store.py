"""The job store: the only code that reads or writes job state (SQLAlchemy), in a database like the history's.

Every API host and every worker shares it: the API creates, lists, cancels and deletes
jobs; the workers start them, count their chunks and finish them. Each change is one
conditional statement (``UPDATE ... WHERE state IN (active)``), so that two processes
changing one job at once cannot both win: a cancelled job stays cancelled, and a chunk
counted once is never counted again (its row in job_chunks is the proof).

The tables come from the history's Alembic chain (migration 0003). The Gunicorn master
migrates at start-up; a store used without it (tests, the Flask test client, a worker
started first) migrates its database at first use, as the history's does.
"""

import builtins
import functools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.history.engine import make_engine
from api.history.store import head_revision, schema_is_current, upgrade
from api.jobs.errors import JobsUnavailable
from api.jobs.jobs import ACTIVE_STATES, FINAL_STATES, MAX_ERRORS, STATES, Job, JobState
from api.jobs.schema import ChunkRecord, JobRecord
from api.settings import Settings

# upgrade: what `python -m api jobs migrate` and the Gunicorn master run on the jobs' database.
__all__ = ["JobStore", "upgrade"]

log = logging.getLogger(__name__)

JOBS = cast(Table, JobRecord.__table__)
CHUNKS = cast(Table, ChunkRecord.__table__)
# A stored error message is cut to this: a job's record stays small whatever a worker reports.
MAX_ERROR_CHARS = 500
# Tries of add_error's compare-and-set before it gives up on a job many workers report errors for.
ERROR_WRITE_ATTEMPTS = 5


class JobStore:
    """One process's connection to the job database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self._schema_checked = False

    @functools.cached_property
    def head(self) -> str | None:
        """Return the newest migration's revision, read once, on this store's first use.

        Not when the app is built: every HTTP worker builds a job store, most never serve a job,
        and none need import Alembic (~10 MiB each) until one does.
        """
        return head_revision(self.url)

    @classmethod
    def from_settings(cls, settings: Settings) -> "JobStore":
        """Return the store of ``settings``' job database (API_JOBS_DATABASE_URL, or the history's)."""
        return cls(settings.jobs_database_url)

    def create(self, job: Job) -> None:
        """Store a new job."""
        values = asdict(job) | {"errors": json.dumps(job.errors[:MAX_ERRORS])}
        with self._begin() as conn:
            conn.execute(insert(JOBS).values(**values))

    def get(self, job_id: str) -> Job | None:
        """Return the job ``job_id``, or None if there is none."""
        with self._begin() as conn:
            row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).mappings().first()
        return None if row is None else _job(row)

    def list(self, owner: str | None, limit: int = 50) -> list[Job]:
        """Return the newest ``limit`` jobs of ``owner`` (every owner's for None), newest first."""
        query = select(JOBS).order_by(JOBS.c.created.desc(), JOBS.c.id.desc()).limit(limit)
        if owner is not None:
            query = query.where(JOBS.c.owner == owner)
        with self._begin() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

    def count_active(self, owner: str) -> int:
        """Return how many of ``owner``'s jobs are queued or running."""
        query = select(func.count()).where(JOBS.c.owner == owner, JOBS.c.state.in_(ACTIVE_STATES))
        with self._begin() as conn:
            return int(conn.execute(query).scalar_one())

    def state(self, job_id: str) -> JobState | None:
        """Return the job's state alone (None if it is gone): the workers' check for cancellation."""
        with self._begin() as conn:
            value = conn.execute(select(JOBS.c.state).where(JOBS.c.id == job_id)).scalar()
        return cast(JobState | None, value)

    def start(self, job_id: str) -> None:
        """Mark a queued job running, its start time set by the first chunk that starts."""
        query = (
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.state == "queued")
            .values(state="running", started=func.coalesce(JOBS.c.started, _now()))
        )
        with self._begin() as conn:
            conn.execute(query)

    def chunk_done(self, job_id: str, index: int, rows: int) -> bool:
        """Count chunk ``index`` (``rows`` rows) done; True only the first time, and while the job is active.

        The progress update and the chunk's row commit together: a chunk whose task ran
        twice (a worker killed after scoring it) finds its row there and counts nothing.
        """
        progress = (
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.state.in_(ACTIVE_STATES))
            .values(rows_done=JOBS.c.rows_done + rows, chunks_done=JOBS.c.chunks_done + 1)
        )
        with self._guarded():
            try:
                with self.engine.begin() as conn:
                    if conn.execute(progress).rowcount != 1:
                        return False  # gone, cancelled or finished: nothing more is counted
                    conn.execute(insert(CHUNKS).values(job_id=job_id, index=index, rows=rows))
            except IntegrityError:
                return False  # counted before: the whole transaction, progress included, is undone
        return True

    def cancel(self, job_id: str) -> bool:
        """Cancel an active job; False if it had finished (or is gone)."""
        return self.finish(job_id, "cancelled")

    def finish(self, job_id: str, state: JobState, error: str | None = None) -> bool:
        """Move an active job to the final ``state`` (noting ``error``); False if it was not active."""
        if state not in FINAL_STATES:
            raise ValueError(f"not a final state: {state!r}")
        query = (
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.state.in_(ACTIVE_STATES))
            .values(state=state, finished=_now())
        )
        with self._begin() as conn:
            finished = conn.execute(query).rowcount == 1
        if finished and error is not None:
            self.add_error(job_id, error)
        return finished

    def add_error(self, job_id: str, message: str) -> None:
        """Append ``message`` to the job's errors unless it holds MAX_ERRORS already.

        A compare-and-set on the whole list, so that two workers' errors never overwrite
        each other, on any database.
        """
        for _ in range(ERROR_WRITE_ATTEMPTS):
            with self._begin() as conn:
                current = conn.execute(select(JOBS.c.errors).where(JOBS.c.id == job_id)).scalar()
            if current is None:
                return
            errors = json.loads(current)
            if len(errors) >= MAX_ERRORS:
                return
            new = json.dumps([*errors, message[:MAX_ERROR_CHARS]])
            query = update(JOBS).where(JOBS.c.id == job_id, JOBS.c.errors == current).values(errors=new)
            with self._begin() as conn:
                if conn.execute(query).rowcount == 1:
                    return
        log.warning("job %s: an error was not recorded: its list kept changing", job_id)

    def expired(self, now: datetime) -> builtins.list[str]:
        """Return the ids of the jobs whose retention ended by ``now``."""
        with self._begin() as conn:
            return builtins.list(conn.execute(select(JOBS.c.id).where(JOBS.c.expires <= now)).scalars())

    def delete(self, job_id: str) -> None:
        """Delete the job's record and its chunks' (its files are JobFiles.remove's)."""
        with self._begin() as conn:
            # Chunks first: SQLite enforces no foreign key, so ON DELETE CASCADE cannot be relied on.
            conn.execute(delete(CHUNKS).where(CHUNKS.c.job_id == job_id))
            conn.execute(delete(JOBS).where(JOBS.c.id == job_id))

    def counts_by_state(self) -> dict[str, int]:
        """Return how many jobs are in each state (every state named, 0 included): the metrics' gauge."""
        query = select(JOBS.c.state, func.count()).group_by(JOBS.c.state)
        with self._begin() as conn:
            counted = {state: int(count) for state, count in conn.execute(query).all()}
        return {state: counted.get(state, 0) for state in STATES}

    def dispose(self) -> None:
        """Close the pooled connections (tests, and a process that is done with the database)."""
        self.engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """Yield a connection in a transaction, committed at its end; database errors are JobsUnavailable."""
        with self._guarded(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Migrate on first use; turn a database's failure into JobsUnavailable, naming only its kind."""
        try:
            self._migrate_once()
            yield
        except (SQLAlchemyError, OSError) as exc:
            # The engine hides bound parameters; the kind alone keeps even a row's id out of logs.
            log.warning("job store failed: %s", type(exc).__name__)
            raise JobsUnavailable("the job database does not answer; retry later") from exc

    def _migrate_once(self) -> None:
        """Bring the database to the newest migration on this store's first use, if it is behind."""
        if self._schema_checked:
            return
        if not schema_is_current(self.engine, self.head):
            try:
                upgrade(self.url)
            except SQLAlchemyError:
                # Another process (a worker, another API worker) may have migrated it meanwhile.
                if not schema_is_current(self.engine, self.head):
                    raise
            log.info("job database migrated to revision %s", self.head)
        self._schema_checked = True


def _now() -> datetime:
    """Return the time now, aware UTC."""
    return datetime.now(UTC)


def _job(row: RowMapping) -> Job:
    """Return the Job a ``jobs`` row holds."""
    values: dict[str, Any] = dict(row)
    values["errors"] = json.loads(values["errors"])
    return Job(**values)
