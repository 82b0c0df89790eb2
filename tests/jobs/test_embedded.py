"""The embedded job worker: the server starts one, runs jobs on it, restarts it, and never lets it outlive it.

Each test starts a real server (tests/e2e.py running_server) with no broker configured: the default
that `make api-start` runs. Jobs are put in its store and queue directly (the HTTP routes are tested
with the API's tests); what is tested here is the worker process the server supervises.
"""

import os
import re
import signal
from pathlib import Path

import pytest

from api.jobs.files import JobFiles
from api.jobs.queue import JobQueue
from api.jobs.store import JobStore
from api.settings import Settings
from tests.e2e import log_records, running_server, wait_until
from tests.jobs.test_tasks import new_job, texts_of

pytestmark = pytest.mark.e2e

READY = re.compile(r"jobs worker ready: pid (\d+), .*")
# Deadlines for a slow machine, not speed requirements.
WORKER_TIMEOUT = 60


def job_env(tmp):
    """The server's jobs: a folder and a database of the test's own, no broker (the embedded default)."""
    return {"API_JOBS_DIR": str(tmp / "jobs"), "API_JOBS_DATABASE_URL": f"sqlite:///{tmp / 'jobs.db'}"}


def ready_workers(server):
    """Return the pids of the job workers that said they were ready, in the order they did."""
    found = (READY.fullmatch(record["message"]) for record in log_records(server.log()))
    return [int(match[1]) for match in found if match]


def alive(pid):
    """Return whether process ``pid`` runs (a zombie, exited but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def nice_of(pid):
    """Return the nice value of process ``pid`` (field 19 of /proc/<pid>/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def first_worker(server):
    """Return the pid of the server's first job worker, once it is ready."""
    return wait_until(lambda: ready_workers(server), "the embedded job worker ready", WORKER_TIMEOUT)[0]


def test_the_server_runs_jobs_on_a_worker_of_its_own_and_stops_it_with_itself(tmp_path, make_job):
    env = job_env(tmp_path)
    settings = Settings(JOBS_DIR=tmp_path / "jobs", JOBS_DATABASE_URL=env["API_JOBS_DATABASE_URL"])
    store, files = JobStore.from_settings(settings), JobFiles(settings.JOBS_DIR)
    with running_server(tmp_path, env=env) as server:
        pid = first_worker(server)
        assert nice_of(pid) == settings.JOBS_EMBEDDED_NICE == 10  # requests come first
        job = new_job(store, files, make_job, texts_of(25), 10)

        JobQueue(settings).enqueue(job.id, job.chunks_total)

        wait_until(lambda: store.state(job.id) == "succeeded", "the job done by the embedded worker", 60)
        assert store.get(job.id).rows_done == 25
        assert alive(pid)
    wait_until(lambda: not alive(pid), "the job worker stopped with the server", WORKER_TIMEOUT)
    store.dispose()


def test_a_job_worker_that_dies_is_started_again(tmp_path):
    with running_server(tmp_path, env=job_env(tmp_path)) as server:
        victim = first_worker(server)

        os.kill(victim, signal.SIGKILL)

        successor = wait_until(
            lambda: [pid for pid in ready_workers(server) if pid != victim],
            "a new job worker",
            WORKER_TIMEOUT,
        )[0]
        assert alive(successor)
        assert "embedded jobs worker exited with status -9; restarting in 1 s" in server.log()


def test_the_job_worker_never_outlives_the_server_even_if_it_is_killed(tmp_path):
    with running_server(tmp_path, env=job_env(tmp_path)) as server:
        pid = first_worker(server)

        server.process.kill()  # the master, SIGKILL: no hook of its own runs
        server.process.wait(WORKER_TIMEOUT)

        wait_until(lambda: not alive(pid), "the job worker gone with its server", WORKER_TIMEOUT)


def test_with_a_broker_configured_the_server_starts_no_job_worker(tmp_path):
    # A port nothing listens on: the server must start without reaching it, and run no worker of its own.
    env = {**job_env(tmp_path), "API_JOBS_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"}
    with running_server(tmp_path, env=env, ready=False) as server:
        # The history writer shares the dirty arbiter with the embedded worker: once it serves, the
        # embedded worker would have been started too.
        wait_until(
            lambda: "history writer serving" in server.log(), "the history writer serving", WORKER_TIMEOUT
        )
        assert "embedded jobs worker started" not in server.log()
        assert ready_workers(server) == []
