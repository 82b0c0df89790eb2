"""Kubernetes manifests, deploy/k8s/*.yaml: schemas and the properties that make a deployment work.

Every manifest is validated, strictly (no unknown fields), against the schemas of one Kubernetes version
that kubernetes-validate ships (no network needed). Schema validity says little about a deployment
working, so probes, resources, security contexts, selectors that match and settings that name real
API_* fields are checked too, by the functions of tests/deploy/policy.py.
"""

import socket
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.deploy.policy import (
    API_LABELS,
    API_SETTINGS,
    K8S,
    KUBERNETES_VERSION,
    REDIS_LABELS,
    WORKER_LABELS,
    api_container,
    api_deployment,
    compose_validator,
    config_data,
    dockerfile_user,
    find,
    image_problems,
    load_compose,
    load_manifests,
    manifest_files,
    matches,
    pod_labels,
    probe_problems,
    resource_problems,
    security_problems,
    workloads,
)


@pytest.fixture(scope="module")
def objects():
    return load_manifests()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


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
    wanted = {
        "Deployment",
        "StatefulSet",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "PersistentVolumeClaim",
        "NetworkPolicy",
    }
    assert wanted <= kinds, f"missing {wanted - kinds}"


def test_validation_needs_no_network(no_network, objects):
    """The schemas ship with the package: validation works with every connection refused."""
    for _, obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    compose_validator().validate(load_compose())


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
    for workload in workloads(objects):
        assert resource_problems(workload) == [], workload["metadata"]["name"]


def test_every_pod_runs_restricted(objects):
    assert {w["kind"] for w in workloads(objects)} == {"Deployment", "StatefulSet"}
    for workload in workloads(objects):
        assert security_problems(workload) == []


def test_api_runs_as_the_images_user(objects):
    uid, gid = dockerfile_user()
    pod = api_deployment(objects)["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
    # Secret files are group-readable only (0440) and owned by fsGroup: the image's group must be it.
    assert pod["securityContext"]["fsGroup"] == gid


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
    assert not unknown, f"not settings of api/settings.py: {unknown}"
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
    # The API counts requests there, the job workers charge a job's rows to the same budget.
    assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [API_LABELS, WORKER_LABELS]


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


def test_k8s_images_are_pinned(objects):
    for workload in workloads(objects):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert image_problems(container["image"]) == []
