"""Deployment policy: loaders of deploy/compose.yaml and deploy/k8s, and checks that list problems."""

import copy
import json
import re

import jsonschema
import yaml

from api.settings import Settings
from model.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
# One recent Kubernetes release whose schemas kubernetes-validate 1.37.0 bundles (it has 1.25-1.37).
KUBERNETES_VERSION = "1.34"

API_LABELS = {"app.kubernetes.io/name": "sentiment-api", "app.kubernetes.io/component": "api"}
REDIS_LABELS = {"app.kubernetes.io/name": "sentiment-api", "app.kubernetes.io/component": "redis"}
WORKER_LABELS = {"app.kubernetes.io/name": "sentiment-api", "app.kubernetes.io/component": "jobs-worker"}
RABBITMQ_LABELS = {"app.kubernetes.io/name": "sentiment-api", "app.kubernetes.io/component": "rabbitmq"}
# The kinds that run pods: each is held to the same security, resource and image rules.
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
API_SETTINGS = {f"API_{name}" for name in Settings.model_fields}
# name:1.2.3 with an optional suffix (-alpine, -noble) and digest; never latest, never a bare major.
PINNED_IMAGE = re.compile(r"^[a-z0-9./_-]+:\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?(@sha256:[0-9a-f]{64})?$")
PEM = re.compile(r"-----BEGIN [A-Z ]+-----")
TOKEN = re.compile(r"\bsa_[A-Za-z0-9_-]{20,}")
# A URL with a password in it (scheme://user:password@host), and a variable named for a password.
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:]*:[^/@]+@", re.IGNORECASE)
PASSWORD_NAME = re.compile(r"PASS(WORD)?(?!.*_FILE$)", re.IGNORECASE)


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


def workloads(objects):
    """Every object that runs pods (Deployments, StatefulSets)."""
    return [doc for _, doc in objects if doc["kind"] in WORKLOAD_KINDS]


def containers(workload):
    return workload["spec"]["template"]["spec"]["containers"]


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


def environment_secret_problems(where, environment):
    """Passwords written into an environment mapping (the configuration shows it to anyone who reads it)."""
    problems = []
    for name, value in environment.items():
        if PASSWORD_NAME.search(name):
            problems.append(f"{where}: {name} holds a password")
        if URL_WITH_PASSWORD.match(str(value)):
            problems.append(f"{where}: {name} is a URL with a password")
    return problems


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


# Broken copies, for the negative tests ------------------------------------------------------------


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


def _compose_with(mutate):
    broken = copy.deepcopy(load_compose())
    mutate(broken)
    return broken


# Files -----------------------------------------------------------------------------------------------


def deploy_yaml_files():
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})
