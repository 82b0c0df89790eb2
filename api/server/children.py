"""What Gunicorn's master checks in child processes before any worker starts: the artifacts, the databases.

In children, so that the master never holds the models or a database driver (the workers load them
themselves, after gevent's patching), and a hung disk or database is given up on.
"""

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from api import constants as c
from api.server.forked import ForkedCommand
from api.settings import Settings


class Log(Protocol):
    """Gunicorn's error log, as far as the migrations use it."""

    def error(self, msg: str, *args: object) -> None:
        """Log an error line."""


# Loading and verifying both models takes ~0.2 s; far more means a hung disk, not a slow check.
ARTIFACT_CHECK_TIMEOUT = 60


def shadow_problem(settings: Settings) -> str | None:
    """Return why API_SHADOW_MODEL cannot be served (one line), or None; checked as API_MODEL is."""
    if settings.SHADOW_MODEL is None:
        return None
    problem = artifact_problem(settings, settings.SHADOW_MODEL)
    return f"API_SHADOW_MODEL: {problem}" if problem else None


def artifact_problem(settings: Settings, model: str | None = None) -> str | None:
    """Return why the artifacts cannot be served (one line), or None if they pass ``python -m model check``.

    ``model``: the model that must be among them (default: API_MODEL, else the manifest's default).
    The same check as ``python -m model check``, in a child forked from the master, which has
    already imported the model code (api/server/preload.py): the models are loaded and dropped
    there, never in the master. A new interpreter importing everything again took ~1.5 s of the
    start-up; the fork takes ~0.2 s.
    """
    problem = _in_child(_check, str(settings.ARTIFACTS_DIR), model or settings.MODEL)
    return problem.removeprefix("error: ") if problem else None


def _check(directory: str, model: str | None) -> str | None:
    """In the child: load and verify every artifact; return what is wrong, or None."""
    from model.errors import ModelError
    from model.serving import artifacts

    try:
        artifacts.check(directory, model)
    except ModelError as exc:
        return str(exc)
    return None


def _in_child(check: Callable[[str, str | None], str | None], *args: Any) -> str | None:
    """Run ``check(*args)`` in a forked child within ARTIFACT_CHECK_TIMEOUT; return what it returned."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_answer, args=(sending, check, args), name="artifact-check", daemon=True)
    child.start()
    sending.close()
    try:
        if not receiving.poll(ARTIFACT_CHECK_TIMEOUT):
            return f"the model artifact check did not finish in {ARTIFACT_CHECK_TIMEOUT} s"
        answer: str | None = receiving.recv()
        return answer
    except EOFError:
        child.join(ARTIFACT_CHECK_TIMEOUT)
        return f"the model artifact check exited {child.exitcode} without an answer"
    finally:
        receiving.close()
        if child.is_alive():
            child.kill()
        child.join()


def _answer(sending: Connection, check: Callable[..., str | None], args: tuple[Any, ...]) -> None:
    """In the child: send what ``check(*args)`` returned, or the error it raised, as one line."""
    try:
        answer = check(*args)
    except Exception as exc:
        answer = f"{type(exc).__name__}: {exc}"
    sending.send(answer)
    sending.close()


@dataclass
class Migration:
    """One ``python -m api <group> migrate`` running in a child process, and what to say if it fails."""

    group: str
    when_slow: str
    when_failed: str
    process: ForkedCommand
    deadline: float  # time.monotonic() by which it must be done...
    timeout: float  # ...API_HISTORY_MIGRATE_TIMEOUT after it started

    def finish(self, log: Log) -> None:
        """Wait for it until its deadline; a URL no installed driver can serve stops the server.

        Any other failure, or no end by API_HISTORY_MIGRATE_TIMEOUT, is logged with what happens
        instead (``when_slow``, ``when_failed``), and the server starts without it.
        """
        try:
            _, stderr = self.process.communicate(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            log.error(
                "%s migration did not finish in %g s (API_HISTORY_MIGRATE_TIMEOUT); starting without it, %s",
                self.group,
                self.timeout,
                self.when_slow,
            )
            return
        if self.process.returncode == c.MIGRATE_UNUSABLE_URL:
            log.error("refusing to start: %s", stderr.strip().splitlines()[-1].removeprefix("error: "))
            sys.exit(1)
        if self.process.returncode != 0:
            log.error(
                "%s database not migrated, %s: %s",
                self.group,
                self.when_failed,
                stderr.strip().splitlines()[-1:],
            )

    def stop(self) -> None:
        """Kill it (the server refuses to start, or gives up waiting) and reap it."""
        self.process.kill()
        self.process.communicate()


def start_migrations(settings: Settings) -> list[Migration]:
    """Start bringing the history's (and a separate job store's) database to the newest schema.

    Done in the master, once, rather than in each worker, so that workers never race to create
    the same tables; in child processes, so the master opens no database connection that forked
    workers would share (it does import SQLAlchemy and sqlite3: Gunicorn's dirty arbiter reads the
    history writer's module in the master); started first, so that they run while the master imports the
    model code and checks the artifacts (``finish_migrations`` waits for them before any worker
    starts). If a database is down, or hangs past API_HISTORY_MIGRATE_TIMEOUT, the server starts
    anyway (predictions do not need it): the history writer migrates once it answers, the job store
    at its first use. A URL no installed driver can serve stops the server, naming the driver,
    before any worker would fail on it.
    """
    migrations = []
    if settings.history_enabled:
        migrations.append(
            _start(
                settings,
                "history",
                "the history writer migrates once the database answers",
                "predictions are served without history until it answers",
            )
        )
    # With history on and no API_JOBS_DATABASE_URL the jobs' tables are in the history's database.
    if not (settings.history_enabled and settings.jobs_database_url == settings.HISTORY_URL):
        later = "the job store migrates at its first use"
        migrations.append(_start(settings, "jobs", later, later))
    return migrations


def finish_migrations(migrations: list[Migration], log: Log) -> None:
    """Wait for the migrations ``start_migrations`` started (see Migration.finish)."""
    for migration in migrations:
        migration.finish(log)


def stop_migrations(migrations: list[Migration]) -> None:
    """Kill the migrations still running: the server refuses to start."""
    for migration in migrations:
        if migration.process.poll() is None:
            migration.stop()


def _start(settings: Settings, group: str, when_slow: str, when_failed: str) -> Migration:
    """Start ``python -m api <group> migrate`` in a forked child, due within API_HISTORY_MIGRATE_TIMEOUT."""
    timeout = settings.HISTORY_MIGRATE_TIMEOUT
    # ``python -m api``'s command, forked rather than a new interpreter: ~0.4 s sooner (api/server/forked.py).
    process = ForkedCommand("api.ops.cli", [group, "migrate"])
    return Migration(group, when_slow, when_failed, process, time.monotonic() + timeout, timeout)
