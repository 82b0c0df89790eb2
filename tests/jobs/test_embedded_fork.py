"""The embedded job worker's first run is forked from the dirty worker; restarts are new interpreters."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.jobs.embedded import Forked, Supervisor
from tests.e2e import history_writer_pids, running_server, wait_until
from tests.jobs.test_embedded import first_worker, job_env, ready_workers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _returns(status: int, seconds: float) -> int:
    """In the forked child: wait, then exit with ``status``."""
    time.sleep(seconds)
    return status


def test_a_forked_child_exits_with_what_its_target_returns():
    child = Forked(_returns, 7, 0.0)
    assert child.wait(30) == 7
    assert child.poll() == 7


def test_a_forked_child_is_waited_for_with_a_deadline_and_stopped_by_signals():
    child = Forked(_returns, 0, 60.0)
    assert child.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.2)
    child.terminate()
    assert child.wait(30) == -signal.SIGTERM


def test_the_first_run_is_the_forked_one_and_a_restart_runs_the_command():
    supervisor = Supervisor(SLEEPER, backoff_max=0.1, first=lambda: Forked(_returns, 3, 0.2)).start()
    try:
        first = supervisor.process
        assert isinstance(first, Forked)
        wait_until(lambda: supervisor.starts == 2, "the command started after the forked run exited", 30)
        assert isinstance(supervisor.process, subprocess.Popen)
        assert supervisor.process.args == SLEEPER
        assert first.poll() == 3
    finally:
        supervisor.stop(timeout=10)
    assert supervisor.process.poll() == -signal.SIGTERM


@pytest.mark.e2e
def test_the_servers_job_worker_is_forked_from_its_dirty_worker(tmp_path):
    with running_server(tmp_path, env=job_env(tmp_path)) as server:
        pid = first_worker(server)
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert parent in history_writer_pids(server)
        # Celery titles the process with the arguments it was started with: the server's own, inherited.
        assert _command(pid).endswith("(--config gunicorn.conf.py wsgi:app)")
        os.kill(pid, signal.SIGTERM)  # a restart is a new interpreter, started by the same dirty worker
        successor = wait_until(lambda: _successor(server, pid), "a new job worker", 60)
        assert _command(successor).endswith(f"(--parent {parent} --nice 10)")


def _command(pid):
    """Return a process's command line (its title, once Celery has set it)."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def _successor(server, victim):
    """Return the pid of a job worker started after ``victim``, once one is ready."""
    later = [pid for pid in ready_workers(server) if pid != victim]
    return later[0] if later else None
