"""Two API hosts, each in a network namespace of its own, behind HAProxy with deploy/haproxy/haproxy.cfg.

The site (one for the whole run): two namespaces joined to the root one by veth pairs, a relay
from each to the machine's Redis, a fresh PostgreSQL database migrated once (as README "Scaling out" asks
before several hosts start), one set of certificates naming both hosts and the service, one tokens
file, and HAProxy on 127.0.0.1. The hosts themselves are started by each test (``hosts``), with
the settings it needs, and stopped after it. Under CI=true a missing tool or privilege fails.
"""

import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.ops.certs import generate
from api.ops.tokens import create_token
from tests.conftest import IN_CI
from tests.e2e import ROOT, client_context, free_port, wait_until
from tests.history.helpers import fresh_database
from tests.hosts.cluster import (
    SERVICE_NAME,
    Balancer,
    Host,
    haproxy_environment,
    host_environment,
    start_haproxy,
)
from tests.hosts.network import missing_tool, network_namespace, redis_relay

POSTGRES_SOCKET_DIR = "/var/run/postgresql"
HAPROXY_START_TIMEOUT = 20
MIGRATE_TIMEOUT = 120


@dataclass
class Site:
    """Everything the hosts share, and HAProxy in front of them."""

    folder: Path
    hosts: list[Host]
    balancer: Balancer
    ca: Path
    tokens_file: Path

    @property
    def port(self) -> int:
        """HAProxy's port on 127.0.0.1: where the clients connect."""
        return self.balancer.port

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the hosts' CA."""
        return client_context(self.ca)

    def token(self, purpose: str) -> str:
        """Create a token named for this run and ``purpose``: its limits in the shared Redis are its own."""
        return create_token(self.tokens_file, f"hosts-{purpose}-{uuid.uuid4().hex[:8]}")


def _unix_socket_url(url: str) -> str:
    """Rewrite a postgresql+psycopg://postgres@host:port/db URL to PostgreSQL's Unix socket.

    A namespace's 127.0.0.1 is its own: the socket file is what every namespace can reach.
    """
    database = url.rsplit("/", 1)[1]
    return f"postgresql+psycopg://postgres@/{database}?host={POSTGRES_SOCKET_DIR}"


def _migrate(history_url: str) -> None:
    """Bring the fresh database to the newest schema once, before the hosts start (no two at once)."""
    env = {**os.environ, "API_HISTORY_URL": history_url}
    done = subprocess.run(
        [sys.executable, "-m", "api", "history", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _balancer(folder: Path, hosts: list[Host], ca: Path) -> Balancer:
    """Start HAProxy on a free loopback port with the shipped configuration; wait until it listens."""
    port = free_port()
    admin = folder / "haproxy-admin.sock"
    servers = [host.address for host in hosts]
    env = haproxy_environment(servers, f"127.0.0.1:{port}", ca, admin)
    process = start_haproxy(folder, env)
    balancer = Balancer(process, port, admin, folder / "haproxy.log")

    def listening() -> bool:
        assert process.poll() is None, f"haproxy exited with {process.returncode}:\n{balancer.log()}"
        return admin.exists()

    wait_until(listening, "HAProxy's admin socket", timeout=HAPROXY_START_TIMEOUT)
    return balancer


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[Site]:
    """The namespaces, relays, database, certificates, tokens and HAProxy; removed after the tests."""
    problem = missing_tool()
    if problem:
        if IN_CI:
            pytest.fail(f"two-host tests cannot run: {problem}")
        pytest.skip(problem)
    folder = tmp_path_factory.mktemp("hosts")
    with ExitStack() as stack:
        namespaces = [stack.enter_context(network_namespace(index)) for index in (1, 2)]
        redis_urls = [stack.enter_context(redis_relay(ns)) for ns in namespaces]
        history_url = _unix_socket_url(stack.enter_context(fresh_database("postgres")))
        _migrate(history_url)
        certs = folder / "certs"
        generate(certs, [SERVICE_NAME, *(ns.address for ns in namespaces)])
        tokens_file = folder / "tokens.json"
        # The file exists before the hosts start; each test adds its own tokens (Site.token).
        create_token(tokens_file, "hosts-first")
        hosts = []
        for index, (ns, redis_url) in enumerate(zip(namespaces, redis_urls, strict=True), start=1):
            env = host_environment(ns, certs, tokens_file, redis_url, history_url, folder / "jobs")
            hosts.append(Host(f"host{index}", ns, env, folder))
        balancer = _balancer(folder, hosts, certs / "ca.crt")
        stack.callback(_stop, balancer.process)
        for host in hosts:
            stack.callback(host.stop)
        yield Site(folder, hosts, balancer, certs / "ca.crt", tokens_file)


def _stop(process: subprocess.Popen) -> None:
    """Stop HAProxy (SIGTERM: it closes its connections and exits at once)."""
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def hosts(site: Site) -> Iterator[Callable[..., None]]:
    """Return a starter of both hosts with extra environment variables; both are stopped after the test.

    It returns once each host's own /readyz answers, its history writer and job worker have started,
    and HAProxy reports both UP.
    """

    def start(**env: str) -> None:
        for host in site.hosts:
            host.env.update(env)
            host.logs.clear()
            host.start()
        for host in site.hosts:
            host.wait_ready(site.ca)
            host.wait_dirty_worker()
        for host in site.hosts:
            site.balancer.wait_status(host.name, "UP")

    try:
        yield start
    finally:
        # Both at once: each takes seconds to stop (its history writer and job worker finish first).
        with ThreadPoolExecutor(max_workers=len(site.hosts)) as pool:
            list(pool.map(Host.stop, site.hosts))
        for host in site.hosts:
            # The next test's hosts start from HAProxy's view of them as down.
            site.balancer.wait_status(host.name, "DOWN")
