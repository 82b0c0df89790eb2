"""What Gunicorn's master checks in child processes before any worker starts: the artifacts, the databases.

In children, so that the master never imports scikit-learn, the models or a database driver (the
workers load them themselves, after gevent's patching), and a hung disk or database is given up on.
"""

import subprocess
import sys
from typing import Protocol

from api import constants as c
from api.settings import Settings


class Log(Protocol):
    """Gunicorn's error log, as far as the migrations use it."""

    def error(self, msg: str, *args: object) -> None:
        """Log an error line."""


# Loading and verifying both models takes ~1.5 s; far more means a hung disk, not a slow check.
ARTIFACT_CHECK_TIMEOUT = 60


def shadow_problem(settings: Settings) -> str | None:
    """Return why API_SHADOW_MODEL cannot be served (one line), or None; checked as API_MODEL is."""
    if settings.SHADOW_MODEL is None:
        return None
    problem = artifact_problem(settings, settings.SHADOW_MODEL)
    return f"API_SHADOW_MODEL: {problem}" if problem else None


def artifact_problem(settings: Settings, model: str | None = None) -> str | None:
    """Return why the artifacts cannot be served (one line), or None if ``python -m model check`` passes.

    ``model``: the model that must be among them (default: API_MODEL, else the manifest's default).
    In a child process, so that the master never imports scikit-learn and the models:
    each worker loads them itself, and the master stays small.
    """
    model = model or settings.MODEL
    chosen = ["--model", model] if model else []
    try:
        # An argument list, no shell: the folder and the model name are the operator's own settings.
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "model", "check", "--artifacts", str(settings.ARTIFACTS_DIR), *chosen],
            capture_output=True,
            text=True,
            timeout=ARTIFACT_CHECK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the model artifact check did not finish in {ARTIFACT_CHECK_TIMEOUT} s"
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines() or [f"python -m model check exited {result.returncode}"]
    return lines[-1].removeprefix("error: ")


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
