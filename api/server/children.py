"""What Gunicorn's master checks in child processes before any worker starts: the artifacts, the databases.

In children, so that the master never holds the models or a database driver (the workers load them
themselves, after gevent's patching), and a hung disk or database is given up on.
"""

import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from api import constants as c
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


def migrate_history(settings: Settings, log: Log) -> None:
    """Bring the history database to the newest schema once, before any worker starts.

    Done here, once, rather than in each worker, so that workers never race to create
    the same tables; in a child process, so the master never imports a database
    driver before the workers' gevent patching. If the database is down, or hangs past
    API_HISTORY_MIGRATE_TIMEOUT, the server starts anyway (predictions do not need it) and
    the history writer migrates once it answers. A URL no installed driver can serve stops
    the server here, naming the driver, before any worker would fail on it.
    """
    if not settings.history_enabled:
        return
    _migrate(
        settings,
        log,
        "history",
        "the history writer migrates once the database answers",
        "predictions are served without history until it answers",
    )


def migrate_jobs(settings: Settings, log: Log) -> None:
    """Bring the job database to the newest schema, as the history's, when it is another database.

    With history on and no API_JOBS_DATABASE_URL the jobs' tables are in the history's database,
    migrated above. If it fails, the server starts anyway: the job store migrates at its first use.
    """
    if settings.history_enabled and settings.jobs_database_url == settings.HISTORY_URL:
        return
    later = "the job store migrates at its first use"
    _migrate(settings, log, "jobs", later, later)


def _migrate(settings: Settings, log: Log, group: str, when_slow: str, when_failed: str) -> None:
    """Run ``python -m api <group> migrate`` in a child process, bounded by API_HISTORY_MIGRATE_TIMEOUT.

    A URL no installed driver can serve stops the server; any other failure is logged, with
    what happens instead (``when_slow``, ``when_failed``).
    """
    timeout = settings.HISTORY_MIGRATE_TIMEOUT
    try:
        # Our own interpreter and module, a fixed group: no input from outside.
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "api", group, "migrate"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.error(
            "%s migration did not finish in %g s (API_HISTORY_MIGRATE_TIMEOUT); starting without it, %s",
            group,
            timeout,
            when_slow,
        )
        return
    if result.returncode == c.MIGRATE_UNUSABLE_URL:
        log.error("refusing to start: %s", result.stderr.strip().splitlines()[-1].removeprefix("error: "))
        sys.exit(1)
    if result.returncode != 0:
        log.error(
            "%s database not migrated, %s: %s", group, when_failed, result.stderr.strip().splitlines()[-1:]
        )
