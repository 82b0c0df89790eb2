"""A job worker started with ``--parent`` (the embedded one) never outlives the process that started it."""

import os
import subprocess
import sys

from tests.e2e import ROOT, wait_until

WORKER_TIMEOUT = 60


PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", "api.jobs.worker", "--parent", str(os.getpid())])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_worker_started_with_parent_dies_with_its_parent(tmp_path, job_settings):
    env = {**os.environ, "API_JOBS_DIR": str(job_settings.JOBS_DIR), "API_HISTORY_URL": "none"}
    env["API_JOBS_DATABASE_URL"] = job_settings.JOBS_DATABASE_URL
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    child = int(parent.stdout.readline())
    assert alive(child)

    parent.kill()
    parent.wait(WORKER_TIMEOUT)

    wait_until(lambda: not alive(child), "the worker gone with its parent", WORKER_TIMEOUT)


def test_a_worker_whose_parent_is_already_gone_exits_at_once(job_settings):
    result = subprocess.run(
        [sys.executable, "-m", "api.jobs.worker", "--parent", "1"],
        cwd=ROOT,
        capture_output=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, b"")


def alive(pid):
    """Return whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
