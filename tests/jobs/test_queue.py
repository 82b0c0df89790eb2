"""The job queue as the API sees it (enqueue, broker state, depth) and the embedded broker's files.

The embedded broker needs nothing; RabbitMQ and Redis are the machine's (a queue of the test's own)
or a throwaway redis-server; an unreachable broker is a port nothing listens on.
"""

import fcntl
import json
import shutil
import stat

import pytest
from kombu import Connection

from api.jobs import fsbroker
from api.jobs.celeryapp import SCORE_CHUNK, broker_folders
from api.jobs.errors import QueueUnavailable
from api.jobs.queue import CHECK_TTL, JobQueue
from tests.jobs.live import BROKER_URL, unique_queue
from tests.web.test_redis_limits import redis_server

JOB_ID = "0123456789abcdef0123456789abcdef"
PASSWORD = "hunter2-not-logged"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        """Return the time now."""
        return self.now


def with_broker(settings, url, queue="sentiment-jobs"):
    """Return ``settings`` with a broker URL and a queue."""
    return settings.model_copy(update={"JOBS_BROKER_URL": url, "JOBS_QUEUE": queue})


def test_enqueue_puts_one_private_message_per_chunk_naming_only_the_job_and_chunk(job_settings):
    queue = JobQueue(job_settings)

    queue.enqueue(JOB_ID, 3)

    folder = broker_folders(job_settings)["queue"]
    files = sorted(folder.glob("*.msg"))
    assert queue.depth() == len(files) == 3
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}
    with Connection("filesystem://localhost/", transport=fsbroker.Transport) as conn:
        bodies = [
            conn.default_channel.decode_body(json.loads(p.read_text())["body"], "base64") for p in files
        ]
    assert [json.loads(body)[1] for body in bodies] == [
        {"job_id": JOB_ID, "index": index, "paid": 0, "faults": 0} for index in range(3)
    ]
    assert {json.loads(p.read_text())["headers"]["task"] for p in files} == {SCORE_CHUNK}


def test_the_embedded_brokers_state_is_kept_a_few_seconds_then_read_again(job_settings):
    clock = Clock()
    queue = JobQueue(job_settings, clock=clock)
    assert queue.broker_state() == {"broker": "embedded", "ok": True, "error": None}

    shutil.rmtree(broker_folders(job_settings)["queue"])
    kept = queue.broker_state()
    clock.now += CHECK_TTL
    read_again = queue.broker_state()

    assert kept["ok"] is True
    assert read_again == {
        "broker": "embedded",
        "ok": False,
        "error": "the embedded broker's folder is missing or not writable",
    }
    assert queue.depth() is None


@pytest.mark.parametrize(
    ("url", "kind", "error"),
    [
        (
            f"amqp://guest:{PASSWORD}@127.0.0.1:1//",
            "amqp",
            "OperationalError: [Errno 111] Connection refused",
        ),
        (
            f"redis://:{PASSWORD}@127.0.0.1:1/0",
            "redis",
            "OperationalError: Error 111 connecting to 127.0.0.1:1. Connection refused.",
        ),
    ],
)
def test_an_unreachable_broker_is_reported_and_refuses_jobs_never_with_its_password(
    job_settings, caplog, url, kind, error
):
    queue = JobQueue(with_broker(job_settings, url))

    state = queue.broker_state()
    with pytest.raises(QueueUnavailable) as refused:
        queue.enqueue(JOB_ID, 2)

    assert state == {"broker": kind, "ok": False, "error": error}
    assert queue.depth() is None
    assert str(refused.value) == f"the job queue ({kind}) does not answer; retry later"
    assert PASSWORD not in caplog.text


@pytest.mark.rabbitmq
def test_rabbitmq_state_and_depth(job_settings):
    with unique_queue() as name:
        queue = JobQueue(with_broker(job_settings, BROKER_URL, name))
        assert queue.depth() == 0  # not declared yet: nothing sent, no worker

        queue.enqueue(JOB_ID, 3)

        assert JobQueue(with_broker(job_settings, BROKER_URL, name)).depth() == 3
        assert queue.broker_state() == {"broker": "amqp", "ok": True, "error": None}


@pytest.mark.rabbitmq
def test_rabbitmq_refusing_the_login_is_reported_without_the_password(job_settings):
    url = BROKER_URL.replace("guest:guest", f"guest:{PASSWORD}")

    state = JobQueue(with_broker(job_settings, url)).broker_state()

    assert (state["broker"], state["ok"]) == ("amqp", False)
    assert state["error"].startswith("AccessRefused: ")
    assert PASSWORD not in state["error"]


@pytest.mark.redis
def test_redis_state_and_depth(job_settings):
    with redis_server() as (url, _):
        queue = JobQueue(with_broker(job_settings, url))
        assert queue.depth() == 0

        queue.enqueue(JOB_ID, 2)

        assert JobQueue(with_broker(job_settings, url)).depth() == 2
        assert queue.broker_state() == {"broker": "redis", "ok": True, "error": None}


def test_message_names_sort_by_time_and_name_their_queue():
    first, second = fsbroker.message_name("jobs.a"), fsbroker.message_name("jobs.a")

    assert first < second
    assert fsbroker.queue_of(first) == "jobs.a"
    assert fsbroker.queue_of(f".{first}.tmp") is None  # a message being written is not one yet
    assert fsbroker.queue_of("jobs.a.exchange") is None


def test_only_the_messages_of_consumers_that_died_go_back_to_the_queue(tmp_path):
    queue, claims = tmp_path / "queue", tmp_path / "claims"
    queue.mkdir()
    for owner, message in (("dead", "1_a.q.msg"), ("alive", "2_b.q.msg")):
        (claims / owner).mkdir(parents=True)
        (claims / owner / message).write_text("{}")
        (claims / f"{owner}.lock").touch()
    with open(claims / "alive.lock", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a consumer still running holds its lock

        assert fsbroker.requeue_orphans(queue, claims) == 1

        assert [path.name for path in queue.iterdir()] == ["1_a.q.msg"]
        assert sorted(path.name for path in claims.iterdir()) == ["alive", "alive.lock"]
