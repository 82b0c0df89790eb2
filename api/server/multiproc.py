"""Prometheus' multiprocess mode, the Gunicorn master's side: the folder where the workers write metrics.

Kept apart from api/web/metrics.py so that the master, which runs these from
gunicorn.conf.py, does not import the app's auth, token store and model
service: the workers import them, after gevent has patched the standard library.
"""

import glob
import os
import shutil
import tempfile

from prometheus_client import multiprocess, values

from api.constants import MULTIPROC_ENV


def prepare_multiprocess_dir() -> tuple[str, bool]:
    """In Gunicorn's master, before any worker: set up the workers' metrics directory, empty.

    PROMETHEUS_MULTIPROC_DIR if the operator set it (created if missing), else a
    private temporary directory. Returns ``(directory, created)``; ``created``
    means it is this server's to remove at exit.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    created = not directory
    if not directory:
        # mkdtemp: mode 0700, a fresh name, so no other user can read or plant metrics files.
        directory = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="sentiment-api-metrics-")
    else:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # The files of an earlier run would add its counts to this one's.
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)
    # prometheus_client chooses where values live when it is first imported, and gunicorn.conf.py's
    # imports did that before the variable was set: choose again, so the workers forked from here
    # write to the directory.
    values.ValueClass = values.get_value_class()
    return directory, created


def worker_exited(pid: int) -> None:
    """Drop the live gauges of a worker that exited (its counters stay: they count what it served)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def remove_multiprocess_dir(directory: str) -> None:
    """Remove the temporary metrics directory at the server's exit."""
    shutil.rmtree(directory, ignore_errors=True)
