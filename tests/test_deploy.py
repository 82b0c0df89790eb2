"""Deployment files: deploy/k8s/*.yaml and deploy/compose.yaml.

Every Kubernetes manifest is validated, strictly (no unknown fields), against the schemas of one
Kubernetes version that kubernetes-validate ships (no network needed), and the Compose file against
the Compose Specification's schema vendored in deploy/schemas/. Schema validity says little about a
deployment working, so the properties that matter are checked too: probes, resources, security
contexts, secrets only as placeholders, selectors that match, settings that name real API_* fields
and point at the services that exist. Each check is a function returning its problems, and the
negative tests show that each one reports a broken copy of the files.
"""

import base64
import copy
import json
import os
import re
import socket
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from api.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
# One recent Kubernetes release whose schemas kubernetes-validate 1.37.0 bundles (it has 1.25-1.37).
KUBERNETES_VERSION = "1.34"

API_LABELS = {"app.kubernetes.io/name": "sentiment-api", "app.kubernetes.io/component": "api"}
REDIS_LABELS = {"app.kubernetes.io/name": "sentiment-api", "app.kubernetes.io/component": "redis"}
API_SETTINGS = {f"API_{name}" for name in Settings.model_fields}
# name:1.2.3 with an optional suffix (-alpine, -noble) and digest; never latest, never a bare major.
PINNED_IMAGE = re.compile(r"^[a-z0-9./_-]+:\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?(@sha256:[0-9a-f]{64})?$")
PEM = re.compile(r"-----BEGIN [A-Z ]+-----")
TOKEN = re.compile(r"\bsa_[A-Za-z0-9_-]{20,}")


# Loading ------------------------------------------------------------------------------------------


def manifest_files():
    """Every Kubernetes manifest (the kustomization is kustomize's, not a Kubernetes object)."""
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def load_manifests():
    """Return [(file name, object), ...] for every object of every manifest file."""
    return [
        (path.name, doc)
        for path in manifest_files()
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


def find(objects, kind, name):
    """The one object of ``kind`` called ``name``."""
    found = [doc for _, doc in objects if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def deployments(objects):
    return [doc for _, doc in objects if doc["kind"] == "Deployment"]


def api_deployment(objects):
    return find(objects, "Deployment", "sentiment-api")


def pod_labels(deployment):
    return deployment["spec"]["template"]["metadata"]["labels"]


def api_container(deployment):
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "api"]
    return container


def config_data(objects):
    return find(objects, "ConfigMap", "sentiment-api-config")["data"]


def load_compose():
    return yaml.safe_load(COMPOSE.read_text())


def compose_validator():
    """A validator of the vendored schema: draft 2019-09, as it declares (by an id jsonschema lacks)."""
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def dockerfile_user():
    """The numeric uid and gid of the Dockerfile's (last) USER line."""
    users = re.findall(r"^USER\s+(\d+):(\d+)\s*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users, "the Dockerfile has no numeric USER uid:gid"
    return tuple(int(n) for n in users[-1])


@pytest.fixture(scope="module")
def objects():
    return load_manifests()


@pytest.fixture(scope="module")
def compose():
    return load_compose()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# Checks: each returns a list of problems --------------------------------------------------------


def matches(selector, labels):
    """True if every label of ``selector`` is in ``labels`` with the same value."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def security_problems(deployment):
    """What makes a Deployment's pods less locked down than the restricted Pod Security Standard asks."""
    problems = []
    pod = deployment["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext", {})
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = container.get("securityContext", {})
        where = f"{deployment['metadata']['name']}/{container['name']}"

        def effective(key, sc=sc):
            return sc.get(key, pod_sc.get(key))

        if effective("runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if not isinstance(effective("runAsUser"), int) or effective("runAsUser") == 0:
            problems.append(f"{where}: runAsUser is not a non-zero uid")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if sc.get("privileged", False):
            problems.append(f"{where}: privileged")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: capabilities do not drop ALL")
        if sc.get("capabilities", {}).get("add"):
            problems.append(f"{where}: capabilities added")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    return problems


def resource_problems(deployment):
    """Containers without CPU and memory requests and limits, or with requests above limits."""
    problems = []
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    problems.append(f"{container['name']}: no {resource} in {kind}")
    return problems


def probe_problems(deployment):
    """The API's probes must ask /healthz (alive) and /readyz (ready) over HTTPS on the API's port."""
    container = api_container(deployment)
    ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    problems = []
    for probe, path in expected.items():
        get = container.get(probe, {}).get("httpGet")
        if get is None:
            problems.append(f"{probe}: no httpGet")
            continue
        if get.get("path") != path:
            problems.append(f"{probe}: path {get.get('path')!r}, expected {path}")
        if get.get("scheme") != "HTTPS":
            problems.append(f"{probe}: scheme {get.get('scheme')!r}, expected HTTPS")
        if ports.get(get.get("port"), get.get("port")) != 5000:
            problems.append(f"{probe}: port {get.get('port')!r} is not the container's 5000")
    return problems


def secret_problems(text, objects=()):
    """Key material or tokens in a file's text, or Secret values that are not placeholders."""
    problems = []
    if PEM.search(text):
        problems.append("PEM block (certificate or key)")
    if TOKEN.search(text):
        problems.append("something shaped like an API token (sa_...)")
    for obj in objects:
        if obj.get("kind") != "Secret":
            continue
        name = obj["metadata"]["name"]
        for key, value in obj.get("stringData", {}).items():
            if not str(value).startswith("REPLACE_WITH_"):
                problems.append(f"Secret {name}: stringData {key} is not a REPLACE_WITH_ placeholder")
        for key in obj.get("data", {}):
            problems.append(f"Secret {name}: data {key} holds a (base64) value, not a placeholder")
    return problems


def image_problems(image):
    """An image reference that is not pinned to an exact version (or a digest)."""
    if image.endswith(":latest") or ":latest@" in image:
        return [f"{image}: latest"]
    if not PINNED_IMAGE.match(image):
        return [f"{image}: not an exact version like name:1.2.3"]
    return []


def compose_security_problems(service_name, service):
    problems = []
    if service.get("read_only") is not True:
        problems.append(f"{service_name}: read_only is not true")
    if "no-new-privileges:true" not in service.get("security_opt", []):
        problems.append(f"{service_name}: no no-new-privileges")
    if service.get("privileged"):
        problems.append(f"{service_name}: privileged")
    for key in ("cpus", "mem_limit", "pids_limit"):
        if key not in service:
            problems.append(f"{service_name}: no {key}")
    return problems


# Kubernetes: schema --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,obj",
    load_manifests(),
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in load_manifests()],
)
def test_manifest_validates_against_kubernetes_schema(name, obj):
    assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_manifests_exist():
    kinds = {doc["kind"] for _, doc in load_manifests()}
    wanted = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"}
    assert wanted <= kinds, f"missing {wanted - kinds}"


def test_validation_needs_no_network(no_network, objects):
    """The schemas ship with the package: validation works with every connection refused."""
    for _, obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    compose_validator().validate(load_compose())


def _deployment_with(mutate):
    broken = copy.deepcopy(api_deployment(load_manifests()))
    mutate(broken)
    return broken


def _misspell_probe(d):
    container = api_container(d)
    container["readinesProbe"] = container.pop("readinessProbe")


def _string_port(d):
    api_container(d)["ports"][0]["containerPort"] = "five thousand"


def _no_container_name(d):
    del api_container(d)["name"]


def _list_for_int_or_string(d):
    d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = [0]


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


def test_kustomization_lists_every_manifest_but_the_example_secrets():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    expected = {path.name for path in manifest_files() if not path.name.endswith(".example.yaml")}
    assert listed == expected
    for name in listed:
        kinds = {doc["kind"] for doc in yaml.safe_load_all((K8S / name).read_text()) if doc}
        assert "Secret" not in kinds, f"{name}: a Secret would be applied with the deployment"


# Kubernetes: properties -----------------------------------------------------------------------------


def test_api_probes_use_healthz_and_readyz_over_https(objects):
    assert probe_problems(api_deployment(objects)) == []
    # Gunicorn listens on PORT: the probes' (and the Service's) port must be that one.
    ports = {p["name"]: p["containerPort"] for p in api_container(api_deployment(objects))["ports"]}
    assert ports["https"] == int(config_data(objects)["PORT"])


def test_every_container_has_requests_and_limits(objects):
    for deployment in deployments(objects):
        assert resource_problems(deployment) == [], deployment["metadata"]["name"]


def test_every_pod_runs_restricted(objects):
    for deployment in deployments(objects):
        assert security_problems(deployment) == []


def test_api_runs_as_the_images_user(objects):
    uid, gid = dockerfile_user()
    pod = api_deployment(objects)["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
    # Secret files are group-readable only (0440) and owned by fsGroup: the image's group must be it.
    assert pod["securityContext"]["fsGroup"] == gid


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


def test_writable_paths_are_emptydirs_and_secrets_read_only(objects):
    pod = api_deployment(objects)["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in api_container(api_deployment(objects))["volumeMounts"]}
    for path in ("/tmp", "/app/instance"):
        assert path in mounts, f"{path} is not writable with a read-only root filesystem"
        assert "emptyDir" in volumes[mounts[path]["name"]]
    for mount in mounts.values():
        assert mount["name"] in volumes, f"{mount['name']} is mounted but not defined"
        assert "subPath" not in mount, "a subPath mount never sees a Secret's updates"
        if "secret" in volumes[mount["name"]]:
            assert mount.get("readOnly") is True


def test_settings_point_at_the_mounted_secrets(objects):
    """API_TLS_CERT, API_TLS_KEY and API_TOKENS_FILE name files that the Secret volumes provide."""
    config = config_data(objects)
    deployment = api_deployment(objects)
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    provided = {}
    for mount in api_container(deployment)["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        example = find(load_manifests(), "Secret", secret["secretName"])
        keys = example["stringData"].keys()
        items = secret.get("items") or [{"key": key, "path": key} for key in keys]
        for item in items:
            assert item["key"] in keys, f"{secret['secretName']} has no key {item['key']}"
            provided[f"{mount['mountPath']}/{item['path']}"] = secret["secretName"]
    for setting in ("API_TLS_CERT", "API_TLS_KEY", "API_TOKENS_FILE"):
        assert config[setting] in provided, f"{setting}={config[setting]} is not a mounted secret file"


def test_config_names_only_real_settings(objects):
    config = config_data(objects)
    env = {e["name"] for e in api_container(api_deployment(objects)).get("env", [])}
    unknown = {key for key in (*config, *env) if key.startswith("API_")} - API_SETTINGS
    assert not unknown, f"not settings of api/config.py: {unknown}"
    # Every pod reads it as a number of workers; absent, Gunicorn would start one per node core.
    assert int(config["WORKERS"]) <= int(api_container(api_deployment(objects))["resources"]["limits"]["cpu"])


def test_rate_limits_are_shared_through_the_redis_service(objects):
    url = urlsplit(config_data(objects)["API_RATE_LIMIT_STORAGE"])
    assert url.scheme == "redis"
    service = find(objects, "Service", url.hostname)
    assert url.port in {port["port"] for port in service["spec"]["ports"]}
    redis = find(objects, "Deployment", url.hostname)
    assert matches(service["spec"]["selector"], pod_labels(redis))
    policy = find(objects, "NetworkPolicy", url.hostname)
    assert matches(policy["spec"]["podSelector"]["matchLabels"], pod_labels(redis))
    (rule,) = policy["spec"]["ingress"]
    assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [API_LABELS]


def test_history_url_comes_from_a_secret_not_per_pod_sqlite(objects):
    assert "API_HISTORY_URL" not in config_data(objects)
    (env,) = [e for e in api_container(api_deployment(objects))["env"] if e["name"] == "API_HISTORY_URL"]
    ref = env["valueFrom"]["secretKeyRef"]
    assert ref["key"] in find(objects, "Secret", ref["name"])["stringData"]


def test_hpa_scales_the_api_deployment_on_cpu(objects):
    hpa = find(objects, "HorizontalPodAutoscaler", "sentiment-api")
    deployment = api_deployment(objects)
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        deployment["metadata"]["name"],
    )
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # Utilization is a share of the request: without a CPU request the HPA cannot compute it.
    assert "cpu" in api_container(deployment)["resources"]["requests"]
    assert "replicas" not in deployment["spec"], "a fixed replicas would reset the HPA's count on apply"


def test_pdb_covers_exactly_the_api_pods(objects):
    pdb = find(objects, "PodDisruptionBudget", "sentiment-api")
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert matches(selector, pod_labels(api_deployment(objects)))
    assert not matches(selector, pod_labels(find(objects, "Deployment", "sentiment-api-redis")))
    # With minAvailable at or above the HPA's minimum, no node could ever be drained.
    hpa = find(objects, "HorizontalPodAutoscaler", "sentiment-api")
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_service_selects_the_api_pods_on_the_https_port(objects):
    service = find(objects, "Service", "sentiment-api")
    deployment = api_deployment(objects)
    assert service["spec"]["selector"] == API_LABELS
    assert matches(service["spec"]["selector"], pod_labels(deployment))
    assert matches(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))
    assert not matches(service["spec"]["selector"], REDIS_LABELS)
    names = {port["name"] for port in api_container(deployment)["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= names


def test_selector_check_can_fail():
    assert matches(API_LABELS, {**API_LABELS, "extra": "x"})
    assert not matches(API_LABELS, REDIS_LABELS)
    assert not matches({}, API_LABELS), "an empty selector would select everything"


def test_k8s_images_are_pinned(objects):
    for deployment in deployments(objects):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert image_problems(container["image"]) == []


# Secrets ---------------------------------------------------------------------------------------------


def deploy_yaml_files():
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


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


def test_compose_validates_against_the_compose_spec(compose):
    errors = compose_validator().iter_errors(compose)
    messages = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    assert messages == []


def _compose_with(mutate):
    broken = copy.deepcopy(load_compose())
    mutate(broken)
    return broken


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
    assert not unknown, f"not settings of api/config.py: {unknown}"


def test_compose_command_exports_the_history_url(compose, tmp_path):
    """Run the API's shell command as Compose would, with a fake secret and a fake gunicorn."""
    (tmp_path / "mariadb_password").write_text("0123abcd\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "gunicorn"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$API_HISTORY_URL" "$*"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    api = compose["services"]["api"]
    assert api["entrypoint"] == ["/bin/sh", "-c"]
    # Compose turns $$ into a literal $ before the shell sees the command.
    script = api["command"][0].replace("$$", "$").replace("/run/secrets/", f"{tmp_path}/")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env, timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "mysql+pymysql://sentiment:0123abcd@mariadb:3306/sentiment?charset=utf8mb4",
        "--config gunicorn.conf.py wsgi:app",
    ]
    # Without the secret, the server must not start with an empty password.
    (tmp_path / "mariadb_password").unlink()
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env, timeout=10)
    assert result.returncode != 0 and result.stdout == ""


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
