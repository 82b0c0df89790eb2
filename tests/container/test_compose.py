"""deploy/compose.yaml resolved by a real Compose implementation, beside its schema check (tests/deploy/).

Running it needs the redis, mariadb and rabbitmq images from a registry, which is not reachable where
the tests run: they resolve it (`config`), they do not start it.
"""

import shutil
import subprocess

import pytest
import yaml

from tests.container.docker import unusable
from tests.e2e import ROOT

pytestmark = pytest.mark.container

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"


@pytest.fixture(scope="session")
def compose(engine):
    """The Compose command: the docker CLI's plugin if it has one, else Debian's docker-compose."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    unusable("no Compose implementation (scripts/docker-engine.sh installs Debian's docker-compose)")
    return []


def test_a_real_compose_implementation_resolves_the_compose_file(compose):
    done = subprocess.run(
        [*compose, "--file", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    written = yaml.safe_load(COMPOSE_FILE.read_text())
    assert set(resolved["services"]) == set(written["services"])
    api = resolved["services"]["api"]
    # Paths resolved against deploy/, as Compose reads them: the build context is the project.
    assert api["build"]["context"] == str(ROOT)
    assert resolved["secrets"]["server_key"]["file"] == str(ROOT / "certs" / "server.key")
    # The shared environment (a YAML merge) reached both the API and the workers.
    for service in ("api", "jobs-worker"):
        environment = resolved["services"][service]["environment"]
        assert (
            environment["API_RATE_LIMIT_STORAGE"] == written["x-jobs-environment"]["API_RATE_LIMIT_STORAGE"]
        )
