"""Jobs in deploy/compose.yaml: RabbitMQ, the job workers, the shared job folder, and their secrets.

The shell commands that build URLs from secret files are run as Compose runs them, with fake secrets
and a fake program in place of the one they exec; what that program receives is read as Settings, so
the API and the workers are shown to agree on what jobs need (tests/deploy/envs.py).
"""

import re
from urllib.parse import urlsplit

import pytest

from tests.deploy.envs import (
    disagreements,
    fake_programs,
    run_compose_command,
    settings_of,
    started_with,
    worker_options,
)
from tests.deploy.policy import (
    ROOT,
    dockerfile_user,
    environment_secret_problems,
    image_problems,
    load_compose,
)

WORKER = "jobs-worker"
WORKER_COMMAND = ["-m", "api", "jobs", "worker"]
PASSWORDS = {"mariadb_password": "0123abcd", "rabbitmq_password": "4567ef89"}


@pytest.fixture(scope="module")
def compose():
    return load_compose()


@pytest.fixture
def secrets_dir(tmp_path):
    """A folder standing for /run/secrets, holding both passwords."""
    for name, password in PASSWORDS.items():
        (tmp_path / name).write_text(password + "\n")
    return tmp_path


def started(service, secrets_dir, program):
    """Run ``service``'s command with a fake ``program``; return (argv, env) it was started with."""
    bin_dir = fake_programs(secrets_dir / "bin", [program])
    return started_with(run_compose_command(service, secrets_dir, bin_dir))


def mounts(service):
    """Return {container path: named volume} of a service's short-syntax volumes."""
    return {target: source for source, _, target in (v.partition(":") for v in service.get("volumes", []))}


def test_compose_worker_is_the_api_image_hardened(compose):
    api, worker = compose["services"]["api"], compose["services"][WORKER]
    assert (worker["image"], worker["build"]) == (api["image"], api["build"])
    uid, gid = dockerfile_user()
    assert worker["user"] == f"{uid}:{gid}"
    assert worker["cap_drop"] == ["ALL"] and worker["read_only"] is True
    # `--scale jobs-worker=N` needs container names Compose makes itself.
    assert "container_name" not in worker
    assert worker["deploy"]["replicas"] >= 2
    assert "ports" not in worker and worker["networks"] == ["backend"]


def test_compose_worker_execs_the_job_worker_with_urls_from_secrets(compose, secrets_dir):
    worker = compose["services"][WORKER]
    argv, env = started(worker, secrets_dir, "python")
    assert argv[: len(WORKER_COMMAND)] == WORKER_COMMAND
    used = {word for word in argv[len(WORKER_COMMAND) :] if word.startswith("--")}
    assert used <= worker_options(), f"options the worker does not know: {used - worker_options()}"
    assert env["API_JOBS_BROKER_URL"] == "amqp://sentiment:4567ef89@rabbitmq:5672//"
    assert env["API_JOBS_DATABASE_URL"] == (
        "mysql+pymysql://sentiment:0123abcd@mariadb:3306/sentiment?charset=utf8mb4"
    )
    for name in PASSWORDS:
        (secrets_dir / name).unlink()
        result = run_compose_command(worker, secrets_dir, secrets_dir / "bin")
        assert result.returncode != 0 and result.stdout == "", f"started without {name}"


def test_compose_api_and_workers_agree_on_jobs(compose, secrets_dir):
    services = compose["services"]
    _, api_env = started(services["api"], secrets_dir, "gunicorn")
    _, worker_env = started(services[WORKER], secrets_dir, "python")
    api, worker = settings_of(api_env), settings_of(worker_env)
    assert disagreements(api, worker) == []
    broker = urlsplit(api.JOBS_BROKER_URL)
    assert (broker.scheme, broker.hostname, broker.port) == ("amqp", "rabbitmq", 5672)
    assert broker.username == services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"]
    assert urlsplit(api.jobs_database_url).hostname == "mariadb"
    # The job folder is the one named volume, mounted where both look for it.
    volume = mounts(services["api"])[str(api.JOBS_DIR)]
    assert mounts(services[WORKER])[str(worker.JOBS_DIR)] == volume
    assert volume in compose["volumes"]


def test_compose_rabbitmq_password_comes_from_its_secret(compose, secrets_dir):
    rabbitmq = compose["services"]["rabbitmq"]
    argv, env = started(rabbitmq, secrets_dir, "docker-entrypoint.sh")
    assert argv == ["rabbitmq-server"]
    assert env["RABBITMQ_DEFAULT_PASS"] == PASSWORDS["rabbitmq_password"]
    assert env["RABBITMQ_DEFAULT_USER"] == "sentiment"
    (secrets_dir / "rabbitmq_password").unlink()
    result = run_compose_command(rabbitmq, secrets_dir, secrets_dir / "bin")
    assert result.returncode != 0 and result.stdout == ""


def test_compose_rabbitmq_keeps_its_queues_and_runs_locked_down(compose):
    services = compose["services"]
    rabbitmq = services["rabbitmq"]
    assert image_problems(rabbitmq["image"]) == []
    # Its data lives under its node name, rabbit@<hostname>: without a fixed hostname a re-created
    # container would start an empty node beside the old queues.
    assert rabbitmq["hostname"]
    assert mounts(rabbitmq)["/var/lib/rabbitmq"] in compose["volumes"]
    assert rabbitmq["user"].split(":")[0] not in {"0", "root"}
    assert rabbitmq["cap_drop"] == ["ALL"] and rabbitmq["read_only"] is True
    # It reads the password file the API's user owns (0440) through the image's group.
    _, gid = dockerfile_user()
    assert str(gid) in rabbitmq["group_add"]
    assert "ports" not in rabbitmq and rabbitmq["networks"] == ["backend"]
    assert rabbitmq["healthcheck"]["test"][1] == "rabbitmq-diagnostics"
    for name in ("api", WORKER):
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_compose_worker_healthcheck_asks_its_own_metrics_port(compose):
    worker = compose["services"][WORKER]
    words = worker["command"][0].split()
    port = words[words.index("--metrics-port") + 1]
    # Not the image's HEALTHCHECK, which asks the API's port that a worker does not serve.
    assert f"http://127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])


def test_compose_writes_no_password_into_an_environment(compose):
    problems = [
        problem
        for name, service in compose["services"].items()
        for problem in environment_secret_problems(name, service.get("environment", {}))
    ]
    assert problems == []


def test_the_image_makes_the_job_folder_a_new_volume_copies(compose):
    """Docker gives a new named volume the owner and mode of the image's folder at its mount point."""
    jobs_dir = compose["services"][WORKER]["environment"]["API_JOBS_DIR"]
    assert mounts(compose["services"][WORKER])[jobs_dir] == "jobs-data"
    uid, gid = dockerfile_user()
    made = rf"mkdir -m 0?700 {re.escape(jobs_dir)} && chown {uid}:{gid} {re.escape(jobs_dir)}\s*$"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^RUN {made}", dockerfile, re.MULTILINE), f"the image does not make {jobs_dir}"
    # Made before USER drops root, which may not chown.
    assert dockerfile.index(jobs_dir) < dockerfile.rindex("\nUSER ")
