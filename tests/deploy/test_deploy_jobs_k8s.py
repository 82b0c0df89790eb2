"""Jobs in deploy/k8s: the worker Deployment, RabbitMQ, the ReadWriteMany job folder, and what they share.

Each container's environment is resolved from the ConfigMap and the example Secrets and read as
Settings, so the API pods and the worker pods are shown to agree on the broker, the job database, the
job folder and the work budget's storage (tests/deploy/envs.py).
"""

from urllib.parse import urlsplit

import pytest

from api.jobs.celeryapp import make_celery
from tests.deploy.envs import container_env, disagreements, settings_of, worker_options
from tests.deploy.policy import (
    API_LABELS,
    RABBITMQ_LABELS,
    WORKER_LABELS,
    api_container,
    api_deployment,
    containers,
    dockerfile_user,
    environment_secret_problems,
    find,
    load_compose,
    load_manifests,
    matches,
    pod_labels,
    workloads,
)

WORKER = "sentiment-api-jobs-worker"
RABBITMQ = "sentiment-api-rabbitmq"
JOBS_CLAIM = "sentiment-api-jobs"
WORKER_COMMAND = ["python", "-m", "api", "jobs", "worker"]


@pytest.fixture(scope="module")
def objects():
    return load_manifests()


def worker_deployment(objects):
    return find(objects, "Deployment", WORKER)


def worker_container(objects):
    (container,) = containers(worker_deployment(objects))
    return container


def option(command, name):
    """The value following ``name`` in a command line."""
    return command[command.index(name) + 1]


def claim_mounts(workload, container):
    """Return {mount path: claim name} of a container's PersistentVolumeClaim volumes."""
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    return {
        m["mountPath"]: volumes[m["name"]]["persistentVolumeClaim"]["claimName"]
        for m in container["volumeMounts"]
        if "persistentVolumeClaim" in volumes[m["name"]]
    }


def test_jobs_manifests_exist(objects):
    assert worker_deployment(objects)["spec"]["replicas"] >= 2
    assert find(objects, "StatefulSet", RABBITMQ)["spec"]["replicas"] == 1
    claim = find(objects, "PersistentVolumeClaim", JOBS_CLAIM)
    # Pods on many nodes mount it at once.
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_worker_runs_the_job_worker_from_the_api_image(objects):
    container = worker_container(objects)
    assert container["image"] == api_container(api_deployment(objects))["image"]
    command = container["command"]
    assert command[: len(WORKER_COMMAND)] == WORKER_COMMAND
    used = {word for word in command if word.startswith("--")}
    assert used <= worker_options(), f"options the worker does not know: {used - worker_options()}"
    deployment = worker_deployment(objects)
    pod = deployment["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == dockerfile_user()
    assert pod_labels(deployment) == WORKER_LABELS
    assert matches(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))


def test_k8s_api_and_workers_agree_on_jobs(objects):
    api_pod, worker_pod = api_deployment(objects), worker_deployment(objects)
    api = settings_of(container_env(objects, api_container(api_pod)))
    worker = settings_of(container_env(objects, worker_container(objects)))
    assert disagreements(api, worker) == []
    # Not SQLite: every pod would keep a job database of its own.
    assert not api.jobs_database_url.startswith("sqlite")
    # The job folder is the one ReadWriteMany claim, mounted where both look for it.
    assert claim_mounts(api_pod, api_container(api_pod))[str(api.JOBS_DIR)] == JOBS_CLAIM
    assert claim_mounts(worker_pod, worker_container(objects))[str(worker.JOBS_DIR)] == JOBS_CLAIM


def test_broker_url_names_the_rabbitmq_service_and_user(objects):
    api = settings_of(container_env(objects, api_container(api_deployment(objects))))
    broker = urlsplit(api.JOBS_BROKER_URL)
    assert broker.scheme == "amqp"
    service = find(objects, "Service", broker.hostname)
    assert broker.port in {port["port"] for port in service["spec"]["ports"]}
    rabbitmq = find(objects, "StatefulSet", RABBITMQ)
    assert matches(service["spec"]["selector"], pod_labels(rabbitmq))
    assert rabbitmq["spec"]["serviceName"] == service["metadata"]["name"]
    env = container_env(objects, containers(rabbitmq)[0])
    # The example Secrets name one password for both: RabbitMQ's and the one in the URL.
    assert (broker.username, broker.password) == (env["RABBITMQ_DEFAULT_USER"], env["RABBITMQ_DEFAULT_PASS"])


def test_job_files_keep_their_modes_on_the_shared_volume(objects):
    """fsGroup's recursive pass at every start would make the 0600 job files group-readable."""
    rabbitmq = find(objects, "StatefulSet", RABBITMQ)
    for workload in (api_deployment(objects), worker_deployment(objects), rabbitmq):
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert context["fsGroupChangePolicy"] == "OnRootMismatch", workload["metadata"]["name"]


def test_worker_metrics_port_is_served_and_admitted(objects):
    container = worker_container(objects)
    port = int(option(container["command"], "--metrics-port"))
    # The default address, 127.0.0.1, would serve nobody outside the pod.
    assert option(container["command"], "--metrics-address") == "0.0.0.0"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": port}
    annotations = worker_deployment(objects)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    policy = find(objects, "NetworkPolicy", WORKER)
    assert matches(policy["spec"]["podSelector"]["matchLabels"], pod_labels(worker_deployment(objects)))
    assert [rule["ports"] for rule in policy["spec"]["ingress"]] == [[{"protocol": "TCP", "port": port}]]


def test_worker_has_no_probe_that_cannot_answer(objects):
    """Remote control is off: `celery inspect ping` would never answer, and the kubelet kill every worker."""
    assert make_celery(settings_of({})).conf.worker_enable_remote_control is False
    container = worker_container(objects)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        command = container.get(probe, {}).get("exec", {}).get("command", [])
        assert "inspect" not in command, probe


def test_rabbitmq_keeps_its_queues_and_takes_its_password_from_a_secret(objects):
    rabbitmq = find(objects, "StatefulSet", RABBITMQ)
    (container,) = containers(rabbitmq)
    compose_image = load_compose()["services"]["rabbitmq"]["image"]
    assert container["image"] == compose_image, "Compose and Kubernetes differ"
    (template,) = rabbitmq["spec"]["volumeClaimTemplates"]
    data = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert data[template["metadata"]["name"]] == "/var/lib/rabbitmq"
    (password,) = [e for e in container["env"] if e["name"] == "RABBITMQ_DEFAULT_PASS"]
    assert "value" not in password and "secretKeyRef" in password["valueFrom"]
    amqp = {p["name"]: p["containerPort"] for p in container["ports"]}["amqp"]
    assert container["readinessProbe"]["tcpSocket"]["port"] in ("amqp", amqp)
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][0] == "rabbitmq-diagnostics"
    assert pod_labels(rabbitmq) == RABBITMQ_LABELS


def test_only_the_api_and_the_workers_reach_rabbitmq_and_redis(objects):
    for name, port in ((RABBITMQ, 5672), ("sentiment-api-redis", 6379)):
        policy = find(objects, "NetworkPolicy", name)
        (rule,) = policy["spec"]["ingress"]
        assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [API_LABELS, WORKER_LABELS]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_every_secret_a_pod_reads_has_an_example_and_no_password_is_a_value(objects):
    for workload in workloads(objects):
        for container in containers(workload):
            literal = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
            assert environment_secret_problems(container["name"], literal) == []
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in find(objects, "Secret", ref["name"])["stringData"], item["name"]
    config = find(objects, "ConfigMap", "sentiment-api-config")["data"]
    assert environment_secret_problems("configmap", config) == []
