"""The container tests' engine, stand-in base and image: each made once per run.

Under CI=true the engine is made to answer (scripts/docker-engine.sh installs and starts it) and a
missing engine is a failure; elsewhere an engine that already answers is used, or the tests skip
saying why. The image is built from the stand-in base (scripts/base-image.sh), never from a registry.
"""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.ops.certs import generate
from api.ops.tokens import create_token
from tests.conftest import IN_CI
from tests.container.docker import (
    SCRIPTS,
    Container,
    context_for,
    docker,
    engine_answers,
    owned_by_service,
    ready,
    running,
    unusable,
)
from tests.e2e import ROOT

# The tag the tests build; overwritten by each run, so the engine's layer cache makes the next build quick.
IMAGE_TAG = "sentiment-api:container-test"
# Seconds for installing and starting the engine (Debian packages) and for building the stand-in base
# (debootstrap) or the image (pip downloads the dependencies): deadlines for a slow mirror.
SETUP_TIMEOUT = 1200
# The variable naming an image to test instead of building one.
GIVEN_IMAGE = "CONTAINER_TEST_IMAGE"
# What the summary at the end of the run reports: the image's size and how long the set-up took.
REPORT = pytest.StashKey[dict]()


def _run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    """Run one of scripts/ with the set-up deadline; return it finished."""
    return subprocess.run(
        [str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=SETUP_TIMEOUT, check=False
    )


def _report(config) -> dict:
    """The run's report of the container set-up (made on first use)."""
    return config.stash.setdefault(REPORT, {})


@pytest.fixture(scope="session")
def engine(pytestconfig):
    """A Docker engine that answers: started by scripts/docker-engine.sh under CI, else one running."""
    if IN_CI:
        started = time.monotonic()
        done = _run_script("docker-engine.sh")
        _report(pytestconfig)["engine"] = f"{done.stdout.strip()} ({time.monotonic() - started:.0f} s)"
        if done.returncode != 0 or not engine_answers():
            pytest.fail(f"scripts/docker-engine.sh exited {done.returncode}: {done.stderr[-2000:]}")
    elif not engine_answers():
        pytest.skip("no Docker engine answers (scripts/docker-engine.sh starts one; CI=true runs it)")


@pytest.fixture(scope="session")
def base_image(engine, pytestconfig):
    """The stand-in base's tag, built by scripts/base-image.sh (reused while its inputs are unchanged)."""
    started = time.monotonic()
    done = _run_script("base-image.sh")
    if done.returncode != 0:
        unusable(f"scripts/base-image.sh exited {done.returncode}: {done.stderr[-2000:]}")
    _report(pytestconfig)["stand-in base"] = f"ready in {time.monotonic() - started:.0f} s"
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def image(base_image, pytestconfig, tmp_path_factory):
    """The project's image, built once per run from the stand-in base with `docker build --network host`.

    CONTAINER_TEST_IMAGE names an image to test instead (one built elsewhere, or on another base).
    """
    given = os.environ.get(GIVEN_IMAGE)
    if given:
        return given
    started = time.monotonic()
    # The built image's id, not the tag, is what the tests run: another run may retag meanwhile.
    id_file = tmp_path_factory.mktemp("image") / "id"
    done = docker(
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={base_image}",
        "--iidfile",
        str(id_file),
        "--tag",
        IMAGE_TAG,
        str(ROOT),
        timeout=SETUP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"docker build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    image_id = id_file.read_text().strip()
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image_id).stdout)
    report = _report(pytestconfig)
    report["image"] = f"{IMAGE_TAG} built in {time.monotonic() - started:.0f} s, {size / 1e6:.0f} MB"
    report["largest layers"] = _largest_layers(image_id)
    return image_id


def _largest_layers(image: str, count: int = 3) -> str:
    """Return the image's ``count`` largest layers, their sizes and the steps that made them."""
    history = docker("history", "--human=false", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image)
    layers = sorted((line.split("\t", 1) for line in history.stdout.splitlines()), key=lambda x: -int(x[0]))
    return "; ".join(
        f"{int(size) / 1e6:.0f} MB {step.split('#(nop) ')[-1][:60] or 'the base'}"
        for size, step in layers[:count]
    )


@dataclass
class Secrets:
    """What an operator mounts: certificates (make certs) and a tokens file holding one token."""

    certs: Path
    instance: Path
    token: str
    # A second token, which one test revokes.
    revocable: str

    @property
    def mounts(self) -> list[str]:
        """docker run options mounting both read-only at the image's default places."""
        return ["-v", f"{self.certs}:/app/certs:ro", "-v", f"{self.instance}:/app/instance:ro"]


@pytest.fixture(scope="session")
def secrets(tmp_path_factory):
    """Certificates and a tokens file, owned by the image's user (uid 10001) as the README says."""
    folder = tmp_path_factory.mktemp("container-secrets")
    generate(folder / "certs")
    token = create_token(folder / "instance" / "tokens.json", "alice")
    revocable = create_token(folder / "instance" / "tokens.json", "bob")
    try:
        owned_by_service(folder / "certs")
        owned_by_service(folder / "instance")
    except PermissionError:
        unusable("giving the mounted key and tokens to uid 10001 needs root")
    return Secrets(folder / "certs", folder / "instance", token, revocable)


@dataclass
class Served:
    """The session's container serving with mounted secrets, a read-only root and only /tmp writable."""

    container: Container
    secrets: Secrets
    context: object


@pytest.fixture(scope="session")
def served(image, secrets):
    """The production form: secrets mounted read-only, `--read-only --tmpfs /tmp`, checked every 2 s."""
    options = ["--read-only", "--tmpfs", "/tmp", "--health-interval", "2s", *secrets.mounts]
    with running(image, "served", *options) as container:
        context = context_for((secrets.certs / "ca.crt").read_bytes())
        ready(container, context)
        yield Served(container, secrets, context)


def pytest_terminal_summary(terminalreporter, config):
    """Report the image's size and the set-up's times (measurements, never asserted)."""
    report = config.stash.get(REPORT, None)
    if report:
        terminalreporter.section("container image")
        for key, value in report.items():
            terminalreporter.write_line(f"{key}: {value}")
