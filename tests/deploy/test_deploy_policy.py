"""The deployment policy's checks fail on broken copies of the files; no deploy file holds a secret."""

import base64
import copy

import kubernetes_validate
import pytest
import yaml

from tests.deploy.envs import container_env, disagreements, settings_of
from tests.deploy.policy import (
    API_LABELS,
    DEPLOY,
    KUBERNETES_VERSION,
    REDIS_LABELS,
    _compose_with,
    _deployment_with,
    _list_for_int_or_string,
    _misspell_probe,
    _no_container_name,
    _string_port,
    api_container,
    api_deployment,
    compose_security_problems,
    compose_validator,
    containers,
    deploy_yaml_files,
    environment_secret_problems,
    find,
    image_problems,
    load_compose,
    load_manifests,
    matches,
    probe_problems,
    resource_problems,
    secret_problems,
    security_problems,
    workloads,
)


@pytest.fixture(scope="module")
def compose():
    return load_compose()


# Kubernetes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate", [_misspell_probe, _string_port, _no_container_name, _list_for_int_or_string]
)
def test_kubernetes_validator_rejects_a_broken_deployment(mutate):
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(_deployment_with(mutate), KUBERNETES_VERSION, strict=True)


def test_kubernetes_validator_rejects_an_unknown_kind():
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(
            {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}},
            KUBERNETES_VERSION,
            strict=True,
        )


@pytest.mark.parametrize(
    "mutate,problem",
    [
        (lambda c: c["securityContext"].update(readOnlyRootFilesystem=False), "readOnlyRootFilesystem"),
        (lambda c: c["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
        (lambda c: c["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
        (lambda c: c["securityContext"].update(runAsUser=0), "runAsUser"),
        (lambda c: c["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "drop ALL"),
        (lambda c: c["securityContext"].update(seccompProfile={"type": "Unconfined"}), "seccompProfile"),
        (lambda c: c["resources"]["limits"].pop("memory"), "memory in limits"),
        (lambda c: c["readinessProbe"]["httpGet"].update(path="/healthz"), "readinessProbe: path"),
        (lambda c: c["livenessProbe"]["httpGet"].update(scheme="HTTP"), "livenessProbe: scheme"),
        (lambda c: c.pop("startupProbe"), "startupProbe: no httpGet"),
    ],
)
def test_property_checks_catch_a_weakened_api_container(mutate, problem):
    broken = _deployment_with(lambda d: mutate(api_container(d)))
    problems = security_problems(broken) + resource_problems(broken) + probe_problems(broken)
    assert any(problem in p for p in problems), problems


def test_security_check_covers_the_rabbitmq_statefulset():
    rabbitmq = copy.deepcopy(find(load_manifests(), "StatefulSet", "sentiment-api-rabbitmq"))
    assert rabbitmq["metadata"]["name"] in {w["metadata"]["name"] for w in workloads(load_manifests())}
    containers(rabbitmq)[0]["securityContext"]["readOnlyRootFilesystem"] = False
    assert any("readOnlyRootFilesystem" in p for p in security_problems(rabbitmq))


def test_selector_check_can_fail():
    assert matches(API_LABELS, {**API_LABELS, "extra": "x"})
    assert not matches(API_LABELS, REDIS_LABELS)
    assert not matches({}, API_LABELS), "an empty selector would select everything"


# Secrets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", deploy_yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_no_secret_is_committed(path):
    text = path.read_text()
    objects = [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    assert secret_problems(text, objects) == []


def test_secret_check_catches_real_material():
    """A key, a token, a real stringData value or any base64 data is reported."""
    pem = "-----BEGIN " + "EC PRIVATE KEY-----\nMHc...\n-----END " + "EC PRIVATE KEY-----\n"
    token = "sa_" + "A1b2" * 10
    assert secret_problems(pem)
    assert secret_problems(f"tokens: {token}")
    secret = {"kind": "Secret", "metadata": {"name": "s"}}
    assert secret_problems("", [{**secret, "stringData": {"url": "mysql+pymysql://u:hunter2@db/x"}}])
    assert secret_problems("", [{**secret, "data": {"k": base64.b64encode(b"secret").decode()}}])
    assert secret_problems("", [{**secret, "stringData": {"url": "REPLACE_WITH_url"}}]) == []


# Compose ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["services"]["api"].update(healtcheck={"test": ["CMD", "true"]}),
        lambda c: c["services"]["api"]["depends_on"]["redis"].update(condition="service_ready"),
        lambda c: c["services"]["api"].update(read_only="yes"),
        lambda c: c["secrets"]["tokens"].update(path="../instance/tokens.json"),
        lambda c: c.update(service={}),
    ],
    ids=[
        "misspelled key",
        "unknown condition",
        "string for boolean",
        "unknown secret field",
        "top-level typo",
    ],
)
def test_compose_schema_rejects_a_broken_file(mutate):
    assert list(compose_validator().iter_errors(_compose_with(mutate)))


@pytest.mark.parametrize(
    "image",
    [
        "redis",
        "redis:latest",
        "redis:7",
        "redis:7.2",
        "redis:7.2-alpine",
        "mariadb:lts",
        "redis:7.2.7@sha256:abc",
    ],
)
def test_image_check_rejects_unpinned_tags(image):
    assert image_problems(image)


def test_compose_security_check_can_fail(compose):
    service = copy.deepcopy(compose["services"]["api"])
    service["read_only"] = False
    del service["security_opt"]
    del service["mem_limit"]
    assert len(compose_security_problems("api", service)) == 3


# Jobs: what the API and the workers read ----------------------------------------------------------


def test_disagreement_check_names_each_difference():
    broker = {"API_JOBS_BROKER_URL": "amqp://u:p@rabbitmq:5672//"}
    database = "mysql+pymysql://u:p@db/x"
    api = settings_of({**broker, "API_HISTORY_URL": database})
    # The job database agrees (the history's by default, or named): only the queue differs.
    worker = settings_of({**broker, "API_JOBS_DATABASE_URL": database, "API_JOBS_QUEUE": "other"})
    assert [problem.split(":")[0] for problem in disagreements(api, worker)] == ["JOBS_QUEUE"]
    embedded = disagreements(api, settings_of({"API_HISTORY_URL": database}))
    assert "worker runs jobs embedded" in embedded


def test_password_check_catches_urls_and_names():
    assert environment_secret_problems("s", {"API_JOBS_BROKER_URL": "amqp://sentiment:hunter2@rabbitmq//"})
    assert environment_secret_problems("s", {"RABBITMQ_DEFAULT_PASS": "hunter2"})
    assert environment_secret_problems("s", {"DB_PASSWORD": "hunter2"})
    harmless = {"MARIADB_PASSWORD_FILE": "/run/secrets/p", "API_RATE_LIMIT_STORAGE": "redis://redis:6379/0"}
    assert environment_secret_problems("s", {**harmless, "URL": "amqp://guest@rabbitmq//"}) == []


def test_container_env_resolves_the_configmap_and_secret_placeholders():
    objects = load_manifests()
    env = container_env(objects, api_container(api_deployment(objects)))
    assert env["PORT"] == find(objects, "ConfigMap", "sentiment-api-config")["data"]["PORT"]
    assert env["API_JOBS_BROKER_URL"].startswith("amqp://"), "the REPLACE_WITH_ prefix is not dropped"
