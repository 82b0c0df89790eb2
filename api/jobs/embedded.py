"""The embedded job worker: with no broker configured, the server runs one worker process of its own.

``make api-start`` alone then runs jobs: Gunicorn's dirty arbiter (``dirty_apps`` in gunicorn.conf.py,
as for the history writer) runs this dirty app, which starts ``python -m api.jobs.worker`` (the same
``main`` as ``python -m api jobs worker``) on the embedded broker, and:

- restarts it if it exits, after 1 s, then 2, 4... up to BACKOFF_MAX s while it keeps failing (a run
  longer than BACKOFF_MAX starts the count again);
- stops it with the server: SIGTERM (it finishes its current chunk) when the server stops, SIGKILL if
  it has not exited within STOP_TIMEOUT s (its message then returns to the queue, api/jobs/fsbroker.py);
- never lets it outlive the server: the worker gets SIGTERM from the kernel when the thread that
  started it ends (``--parent``: prctl's PR_SET_PDEATHSIG), and the dirty arbiter ends this process
  with the server, even if the master is killed.

It runs at ``API_JOBS_EMBEDDED_NICE`` (10 by default): on a busy server, requests come first. With
``API_JOBS_BROKER_URL`` set, gunicorn.conf.py does not load this app: workers run elsewhere.
"""

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from gunicorn.dirty import DirtyApp

from api.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
# Seconds the worker has to finish its chunk when the server stops; below the dirty arbiter's
# dirty_graceful_timeout (gunicorn.conf.py), which kills this process after it.
STOP_TIMEOUT = 6.0


def worker_command(nice: int) -> list[str]:
    """Return the command of the embedded worker, a child of this process's calling thread."""
    return [sys.executable, "-m", "api.jobs.worker", "--parent", str(os.getpid()), "--nice", str(nice)]


class Supervisor:
    """Runs a command in a thread of its own, again each time it exits, until stopped."""

    def __init__(self, command: Sequence[str], backoff_max: float = BACKOFF_MAX) -> None:
        self.command = list(command)
        self.backoff_max = backoff_max
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="jobs-worker-supervisor", daemon=True)

    def start(self) -> "Supervisor":
        """Start the command now; return self."""
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
        while not self._stop.is_set():
            began = time.monotonic()
            # Started from this thread, which lives as long as the command: its parent-death signal
            # fires when this thread (the whole process, at the server's end) is gone.
            with self._lock:
                if self._stop.is_set():
                    return
                self.process = subprocess.Popen(self.command)  # noqa: S603  # our own interpreter and module
                self.starts += 1
            status = self.process.wait()
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
        self.supervisor = Supervisor(worker_command(settings.JOBS_EMBEDDED_NICE)).start()
        log.info("embedded jobs worker started (nice %d)", settings.JOBS_EMBEDDED_NICE)

    def close(self) -> None:
        """Stop the worker process: its current chunk finishes, the rest waits in the queue."""
        self.supervisor.stop()
