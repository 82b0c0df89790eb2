"""Jobs survive their processes: a worker killed with SIGKILL mid-job, the API server restarted mid-job.

On the real RabbitMQ, with a queue of the test's own: a chunk whose worker dies is delivered again
(acks_late) and counted once, so the result still holds every row exactly once; the job's state is in
the database, not in the API server, so a new server reports the same job and it carries on.
"""

import signal
from collections import Counter

import pytest

from tests.e2e import running_server, wait_until
from tests.history.helpers import fresh_database
from tests.jobs.live import (
    JobClient,
    job_env,
    reference_score,
    sha256_of,
    unique_queue,
    worker_pool,
    write_tweets_csv,
)

pytestmark = [pytest.mark.e2e, pytest.mark.rabbitmq]

ROWS = 200_000
ACTIVE = ("queued", "running")
# Chunks long enough (10 of them) that the kill, right as the victim takes its second chunk, finds it
# scoring: its message delivered and not yet acknowledged, which acks_late must bring back.
KILL_CHUNK_ROWS = 20_000


@pytest.fixture
def queue():
    """A queue of this test's own on the machine's RabbitMQ, deleted after."""
    with unique_queue() as name:
        yield name


@pytest.fixture
def source(tmp_path):
    """A 200,000-row file and the SHA-256 of what `python -m model score` makes of it."""
    path = write_tweets_csv(tmp_path / "tweets.csv", ROWS)
    return path, reference_score(path, tmp_path / "reference.csv")


def mid_job(client, job_id):
    """Return the job once some but not all of its rows are scored (None before)."""
    job = client.job(job_id)
    assert job["state"] in ACTIVE, f"the job ended before it was interrupted: {job}"
    return job if 0 < job["rows"]["done"] < job["rows"]["total"] else None


def holding_a_chunk(worker, job_id):
    """Return True once ``worker`` has scored a chunk of the job and taken another (its last log line).

    Celery logs a task's "received" as it starts it: the worker then holds a chunk it has not finished.
    """
    lines = worker.log().splitlines()
    return worker.logged(job_id) and "sentiment.score_chunk" in lines[-1] and "received" in lines[-1]


def submit(client, path):
    """Submit ``path``; return the job's id."""
    status, _, body = client.submit(path)
    assert status == 202, body
    return body["id"]


def assert_every_row_once(result, expected):
    """The result holds ids 1..ROWS, each exactly once, and equals the command's output byte for byte."""
    with open(result, encoding="utf-8") as handle:
        assert next(handle) == "id,label,score\n"
        ids = Counter(line.split(",", 1)[0] for line in handle)
    assert len(ids) == ROWS and set(ids.values()) == {1}, [i for i, n in ids.items() if n != 1][:10]
    assert set(ids) == {str(i) for i in range(1, ROWS + 1)}
    assert sha256_of(result) == expected


def test_a_worker_killed_mid_job_still_leaves_every_row_exactly_once(tmp_path, queue, source):
    path, expected = source
    env = {**job_env(tmp_path, queue), "API_JOBS_CHUNK_ROWS": str(KILL_CHUNK_ROWS)}
    with running_server(tmp_path, env=env, workers=2) as server, worker_pool(tmp_path, env) as pool:
        victim, survivor = pool.scale(2)
        client = JobClient(server)
        job_id = submit(client, path)
        wait_until(lambda: holding_a_chunk(victim, job_id), "the victim scoring its second chunk", 120)
        assert mid_job(client, job_id), "the job had not started: the victim's log is wrong"
        victim.process.send_signal(signal.SIGKILL)
        assert victim.process.wait(timeout=30) == -signal.SIGKILL
        assert client.job(job_id)["state"] in ACTIVE, "the job ended before the kill: make it larger"

        job = client.wait_final(job_id)
        assert job["state"] == "succeeded", job
        assert job["rows"] == {"done": ROWS, "total": ROWS}
        assert survivor.process.poll() is None, survivor.log()[-2000:]
        assert client.download(job_id, tmp_path / "result.csv")[0] == 200
    assert_every_row_once(tmp_path / "result.csv", expected)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_job_outlives_the_api_server_restarted_mid_job(tmp_path, queue, source, database):
    path, expected = source
    if database == "postgres":
        with fresh_database("postgres") as url:
            _restart_mid_job(tmp_path, job_env(tmp_path, queue, url), path, expected)
    else:
        _restart_mid_job(tmp_path, job_env(tmp_path, queue), path, expected)


def _restart_mid_job(tmp_path, env, path, expected):
    """Submit to one server, stop it mid-job (SIGTERM), start another: it reports the job to its end."""
    with worker_pool(tmp_path, env) as pool:
        with running_server(tmp_path, env=env, workers=2) as first:
            (worker,) = pool.scale(1)
            client = JobClient(first)
            job_id = submit(client, path)
            wait_until(lambda: mid_job(client, job_id), "rows scored", 120)
            # Paused while the API restarts, so that the job is surely unfinished when the new server
            # answers; SIGCONT later shows the job carrying on under the new server.
            worker.process.send_signal(signal.SIGSTOP)
            before = client.job(job_id)
        assert first.process.returncode == 0, first.log()[-2000:]

        with running_server(tmp_path, env=env, workers=2) as second:
            client = JobClient(second)  # a new token of the same name: the job's owner
            again = client.job(job_id)
            assert again["state"] == "running", again
            assert again["rows"]["done"] >= before["rows"]["done"]
            assert again["rows"]["done"] < again["rows"]["total"]
            worker.process.send_signal(signal.SIGCONT)
            wait_until(
                lambda: client.job(job_id)["rows"]["done"] > again["rows"]["done"], "the job carrying on", 120
            )
            job = client.wait_final(job_id)
            assert job["state"] == "succeeded", job
            assert client.download(job_id, tmp_path / "result.csv")[0] == 200
    assert_every_row_once(tmp_path / "result.csv", expected)
