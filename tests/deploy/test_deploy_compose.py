"""The Compose file, deploy/compose.yaml: the Compose Specification's schema and its properties."""

import re
from urllib.parse import urlsplit

import pytest

from tests.deploy.envs import fake_programs, run_compose_command, started_with
from tests.deploy.policy import (
    API_SETTINGS,
    COMPOSE,
    ROOT,
    compose_security_problems,
    compose_validator,
    dockerfile_user,
    find,
    image_problems,
    load_compose,
    load_manifests,
)


@pytest.fixture(scope="module")
def objects():
    return load_manifests()


@pytest.fixture(scope="module")
def compose():
    return load_compose()


# Compose ---------------------------------------------------------------------------------------------


def test_compose_validates_against_the_compose_spec(compose):
    errors = compose_validator().iter_errors(compose)
    messages = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    assert messages == []


def test_compose_api_uses_redis_for_limits_and_mariadb_for_history(compose):
    services = compose["services"]
    api = services["api"]
    limits = urlsplit(api["environment"]["API_RATE_LIMIT_STORAGE"])
    assert (limits.scheme, limits.hostname) == ("redis", "redis")
    assert limits.hostname in services
    # The history URL is put together from the password secret in the command (see the next test).
    assert "API_HISTORY_URL" not in api["environment"]
    (url,) = re.findall(r'API_HISTORY_URL="([^"]+)"', api["command"][0])
    history = urlsplit(url.replace("$${password}", "PASSWORD"))
    assert history.scheme == "mysql+pymysql"
    assert history.hostname == "mariadb" and history.hostname in services
    mariadb = services["mariadb"]["environment"]
    assert history.username == mariadb["MARIADB_USER"]
    assert history.path == f"/{mariadb['MARIADB_DATABASE']}"
    assert "charset=utf8mb4" in history.query
    for name in ("redis", "mariadb"):
        assert api["depends_on"][name]["condition"] == "service_healthy"
        assert "healthcheck" in services[name], f"service_healthy on {name}, which has no healthcheck"
    unknown = {key for key in api["environment"] if key.startswith("API_")} - API_SETTINGS
    assert not unknown, f"not settings of api/settings.py: {unknown}"


def test_compose_command_exports_the_history_and_broker_urls(compose, tmp_path):
    """Run the API's shell command as Compose would, with fake secrets and a fake gunicorn."""
    (tmp_path / "mariadb_password").write_text("0123abcd\n")
    (tmp_path / "rabbitmq_password").write_text("4567ef89\n")
    bin_dir = fake_programs(tmp_path / "bin", ["gunicorn"])
    api = compose["services"]["api"]
    argv, env = started_with(run_compose_command(api, tmp_path, bin_dir))
    assert argv == ["--config", "gunicorn.conf.py", "wsgi:app"]
    assert (
        env["API_HISTORY_URL"] == "mysql+pymysql://sentiment:0123abcd@mariadb:3306/sentiment?charset=utf8mb4"
    )
    assert env["API_JOBS_BROKER_URL"] == "amqp://sentiment:4567ef89@rabbitmq:5672//"
    # Without either secret, the server must not start with an empty password.
    for name in ("mariadb_password", "rabbitmq_password"):
        (tmp_path / name).rename(tmp_path / f"{name}.away")
        result = run_compose_command(api, tmp_path, bin_dir)
        assert result.returncode != 0 and result.stdout == "", name
        (tmp_path / f"{name}.away").rename(tmp_path / name)


def test_compose_api_healthcheck_asks_readyz_over_https(compose):
    api = compose["services"]["api"]
    assert "https://127.0.0.1:5000/readyz" in " ".join(api["healthcheck"]["test"])
    assert "5000:5000" in api["ports"]


def test_compose_secrets_are_the_git_ignored_files(compose):
    api = compose["services"]["api"]
    defined = compose["secrets"]
    for service in compose["services"].values():
        for ref in service.get("secrets", []):
            assert (ref if isinstance(ref, str) else ref["source"]) in defined
    for name, secret in defined.items():
        path = (COMPOSE.parent / secret["file"]).resolve()
        assert path.parent in {ROOT / "certs", ROOT / "instance"}, f"{name}: {path}"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "instance/" in ignored and "certs/*" in ignored
    for setting in ("API_TLS_CERT", "API_TLS_KEY", "API_TOKENS_FILE"):
        path = api["environment"][setting]
        assert path.startswith("/run/secrets/") and path.removeprefix("/run/secrets/") in api["secrets"]


def test_compose_services_are_hardened(compose):
    problems = [p for name, svc in compose["services"].items() for p in compose_security_problems(name, svc)]
    assert problems == []
    uid, gid = dockerfile_user()
    assert compose["services"]["api"]["user"] == f"{uid}:{gid}"
    assert compose["services"]["api"]["cap_drop"] == ["ALL"]
    assert compose["services"]["redis"]["user"].split(":")[0] not in {"0", "root"}
    # Only the API is published; the data services sit on an internal network.
    assert compose["networks"]["backend"]["internal"] is True
    for name in ("redis", "mariadb"):
        assert "ports" not in compose["services"][name]
        assert compose["services"][name]["networks"] == ["backend"]


def test_compose_images_are_pinned(compose, objects):
    for service in compose["services"].values():
        assert image_problems(service["image"]) == []
    redis = find(objects, "Deployment", "sentiment-api-redis")
    (redis_container,) = redis["spec"]["template"]["spec"]["containers"]
    assert redis_container["image"] == compose["services"]["redis"]["image"], "Compose and Kubernetes differ"
