"""The embedded job worker: with no broker configured, the server runs one worker process of its own.

``make api-start`` alone then runs jobs: Gunicorn's dirty arbiter (``dirty_apps`` in gunicorn.conf.py,
as for the history writer) runs this dirty app, which starts ``python -m api.jobs.worker`` (the same
``main`` as ``python -m api jobs worker``) on the embedded broker, and:

- starts it forked from this process, which shares the master's imports (api/server/preload.py) and
  has imported the settings, pydantic and SQLAlchemy: a new interpreter held ~60 MiB of its own, the
  forked worker about half; forked while this process has one thread (the dirty app's ``init``), so
  that no lock another thread holds is copied taken;
- restarts it, as ``python -m api.jobs.worker`` (a new interpreter: this process has threads by then),
  if it exits, after 1 s, then 2, 4... up to BACKOFF_MAX s while it keeps failing (a run longer than
  BACKOFF_MAX starts the count again);
- stops it with the server: SIGTERM (it finishes its current chunk) when the server stops, SIGKILL if
  it has not exited within STOP_TIMEOUT s (its message then returns to the queue, api/jobs/fsbroker.py);
- never lets it outlive the server: the worker gets SIGTERM from the kernel when the thread that
  started it ends (``--parent``: prctl's PR_SET_PDEATHSIG; the forked one's is this process's main
  thread), and the dirty arbiter ends this process with the server, even if the master is killed.

It runs at ``API_JOBS_EMBEDDED_NICE`` (10 by default): on a busy server, requests come first. With
``API_JOBS_BROKER_URL`` set, gunicorn.conf.py does not load this app: workers run elsewhere.
"""

import gc
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from gunicorn.dirty import DirtyApp

from api.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
# Seconds the worker has to finish its chunk when the server stops; below the dirty arbiter's
# dirty_graceful_timeout (gunicorn.conf.py), which kills this process after it.
STOP_TIMEOUT = 6.0


# The signals Gunicorn's dirty worker handles: the forked job worker starts from the defaults, as a new
# process would, and Celery installs its own.
_INHERITED_HANDLERS = ("SIGHUP", "SIGQUIT", "SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGABRT", "SIGCHLD")


class Process(Protocol):
    """What the Supervisor uses of a process: subprocess.Popen's, or Forked's."""

    pid: int

    def poll(self) -> int | None:
        """Return the exit status, or None while it runs."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit and return its status; subprocess.TimeoutExpired after ``timeout`` s."""

    def terminate(self) -> None:
        """Send SIGTERM."""

    def kill(self) -> None:
        """Send SIGKILL."""


def worker_command(nice: int) -> list[str]:
    """Return the command of the embedded worker, a child of this process's calling thread."""
    return [sys.executable, "-m", "api.jobs.worker", "--parent", str(os.getpid()), "--nice", str(nice)]


def forked_worker(nice: int) -> "Forked":
    """Start the embedded worker forked from this process (call it while the process has one thread)."""
    return Forked(_worker_main, os.getpid(), nice)


class Forked:
    """A child forked from this process that runs ``target(*args)`` and exits with what it returns."""

    def __init__(self, target: Callable[..., int], *args: object) -> None:
        context = multiprocessing.get_context("fork")
        # Daemonic: if this process exits without stopping it, multiprocessing's exit hook sends SIGTERM.
        self._process = context.Process(
            target=_exit_with, args=(target, *args), name="jobs-worker", daemon=True
        )
        self._process.start()
        self.pid: int = self._process.pid or 0

    def poll(self) -> int | None:
        """Return the exit status (-N for signal N, as Popen), or None while it runs."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit and return its status; subprocess.TimeoutExpired after ``timeout`` s."""
        self._process.join(timeout)
        status = self._process.exitcode
        if status is None:
            raise subprocess.TimeoutExpired("embedded jobs worker", timeout or 0.0)
        return status

    def terminate(self) -> None:
        """Send SIGTERM."""
        self._process.terminate()

    def kill(self) -> None:
        """Send SIGKILL."""
        self._process.kill()


def _exit_with(target: Callable[..., int], *args: object) -> None:
    """In the forked child: exit with ``target(*args)``'s status."""
    sys.exit(target(*args))


def _worker_main(parent: int, nice: int) -> int:
    """In the forked child: start from the default signal handlers, and run the job worker's main."""
    # What this process inherited stays out of the collector's sight: its passes would copy the pages.
    gc.freeze()
    for name in _INHERITED_HANDLERS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    from api.jobs.worker import main

    return main(["--parent", str(parent), "--nice", str(nice)])


class Supervisor:
    """Runs a command in a thread of its own, again each time it exits, until stopped.

    ``first``, if given, starts the first run instead of the command, in the thread that calls ``start``.
    """

    def __init__(
        self,
        command: Sequence[str],
        backoff_max: float = BACKOFF_MAX,
        first: Callable[[], Process] | None = None,
    ) -> None:
        self.command = list(command)
        self.backoff_max = backoff_max
        self.first = first
        self.starts = 0
        self.process: Process | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="jobs-worker-supervisor", daemon=True)

    def start(self) -> "Supervisor":
        """Start the command (or ``first``) now; return self."""
        if self.first is not None:
            with self._lock:
                self.process = self.first()
                self.starts += 1
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop restarting; SIGTERM the command, SIGKILL it after ``timeout`` s; wait for the thread."""
        self._stop.set()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("embedded jobs worker did not stop in %g s: killed", timeout)
                process.kill()
        self._thread.join(timeout)

    def _run(self) -> None:
        """Start the command, wait for it, and start it again after a growing pause, until stopped."""
        delay = BACKOFF_START
        running = self.process  # the first run, if ``start`` started it
        while not self._stop.is_set():
            began = time.monotonic()
            if running is None:
                # Started from this thread, which lives as long as the command: its parent-death signal
                # fires when this thread (the whole process, at the server's end) is gone.
                with self._lock:
                    if self._stop.is_set():
                        return
                    running = self.process = subprocess.Popen(self.command)  # noqa: S603  # our interpreter
                    self.starts += 1
            status = running.wait()
            running = None
            if self._stop.is_set():
                return
            delay = BACKOFF_START if time.monotonic() - began > self.backoff_max else delay
            log.warning("embedded jobs worker exited with status %s; restarting in %g s", status, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_max)


class EmbeddedWorker(DirtyApp):
    """The dirty app Gunicorn runs when jobs are embedded: it supervises one job worker process."""

    # One worker process for the server, whatever dirty_workers says: a second would only compete
    # for the same cores as the server's own workers.
    workers = 1

    def init(self) -> None:
        """Start the worker process and its supervision."""
        settings = Settings()
        nice = settings.JOBS_EMBEDDED_NICE
        # Gunicorn calls init before its event loop and thread pool exist: the one moment to fork.
        first = None if threading.active_count() > 1 else lambda: forked_worker(nice)
        self.supervisor = Supervisor(worker_command(nice), first=first).start()
        log.info("embedded jobs worker started (nice %d)", settings.JOBS_EMBEDDED_NICE)

    def close(self) -> None:
        """Stop the worker process: its current chunk finishes, the rest waits in the queue."""
        self.supervisor.stop()
