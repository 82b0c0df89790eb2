"""The docker CLI for the container tests: bounded calls, containers that are always removed, HTTPS to them.

Containers run with ``--network host`` (the engine of scripts/docker-engine.sh has no bridge) and are
reached on 127.0.0.1 only, each on a port of its own: a free port is found by binding to port 0, then
given to the container as PORT.
"""

import http.client
import json
import os
import ssl
import subprocess
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.e2e import ROOT, free_port, wait_until

LOOPBACK = "127.0.0.1"
# Seconds for one docker CLI call that is not a build or a save.
CALL_TIMEOUT = 120
# Seconds a container may take from `docker run` to an answering /readyz (two workers loading models on a
# busy 2-core machine); a deadline, not a speed.
READY_TIMEOUT = 180
# Seconds for a stopped container to exit: gunicorn.conf.py's graceful_timeout (20 s), and a margin.
STOP_TIMEOUT = 60
SCRIPTS = ROOT / "scripts"


def unusable(reason: str) -> None:
    """Fail under CI, where the container tests must run; skip elsewhere, saying why."""
    if IN_CI:
        pytest.fail(f"container tests under CI=true: {reason}")
    pytest.skip(reason)


def docker(*args: str, timeout: float = CALL_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``docker ARGS``; return the finished process (text), raising with its stderr if it failed."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def engine_answers() -> bool:
    """Return True if a Docker engine answers the CLI."""
    try:
        return docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


@dataclass
class Container:
    """A container started by ``running``: its name and the loopback port its server listens on."""

    name: str
    port: int

    def logs(self) -> tuple[str, str]:
        """Return the container's (stdout, stderr) so far."""
        done = docker("logs", self.name)
        return done.stdout, done.stderr

    def inspect(self, template: str) -> str:
        """Return ``docker inspect --format TEMPLATE`` of the container."""
        return docker("inspect", "--format", template, self.name).stdout.strip()

    def read(self, path: str) -> bytes:
        """Return a file's bytes from inside the running container (tmpfs included, unlike docker cp)."""
        done = subprocess.run(
            ["docker", "exec", self.name, "cat", path], capture_output=True, timeout=CALL_TIMEOUT, check=True
        )
        return done.stdout

    def exec(self, *command: str) -> str:
        """Run a command inside the running container; return its stdout."""
        return docker("exec", self.name, *command).stdout

    def running(self) -> bool:
        """Return True while the container runs."""
        return self.inspect("{{.State.Running}}") == "true"


def unique_name(what: str) -> str:
    """A container name no other test or run uses."""
    return f"sentiment-api-test-{what}-{uuid.uuid4().hex[:8]}"


@contextmanager
def started(name: str, run_args: list[str], port: int):
    """Yield the Container that ``docker run -d RUN_ARGS`` started; always remove it afterwards."""
    try:
        docker("run", "-d", "--name", name, *run_args)
        yield Container(name, port)
    finally:
        docker("rm", "-f", name, check=False, timeout=STOP_TIMEOUT)


@contextmanager
def running(image: str, what: str, *options: str, env: dict[str, str] | None = None):
    """Yield a Container of ``image`` serving on a free loopback port, with docker run OPTIONS."""
    port = free_port()
    settings = {"HOST": LOOPBACK, "PORT": str(port), **(env or {})}
    run_args = ["--network", "host", *options]
    for key, value in settings.items():
        run_args += ["-e", f"{key}={value}"]
    with started(unique_name(what), [*run_args, image], port) as container:
        yield container


def https(port: int, context: ssl.SSLContext, method: str, path: str, body=None, token=None):
    """Send one request to 127.0.0.1:PORT over TLS on a new connection; return (status, parsed JSON)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPSConnection(LOOPBACK, port, context=context, timeout=30)
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None
    finally:
        conn.close()


def ready(container: Container, context: ssl.SSLContext) -> None:
    """Wait until the container's /readyz answers 200, failing with its logs if it stopped."""

    def answers():
        if not container.running():
            raise AssertionError(f"{container.name} stopped: {container.logs()[1][-3000:]}")
        try:
            return https(container.port, context, "GET", "/readyz")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    wait_until(answers, f"{container.name}'s /readyz", timeout=READY_TIMEOUT)


def context_for(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts only the given CA (PEM)."""
    return ssl.create_default_context(cadata=ca_pem.decode())


def tokens_in(stderr: str) -> list[str]:
    """The README's rule for the first token: the lines of stderr that start with sa_."""
    return [line for line in stderr.splitlines() if line.startswith("sa_")]


def owned_by_service(path: Path, uid: int = 10001) -> None:
    """Give a file or folder tree to the image's user, as the README tells operators to."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.chown(item, uid, uid)
