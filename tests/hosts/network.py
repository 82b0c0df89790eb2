"""Network namespaces for the two-host tests: one per host, joined to the root namespace by a veth pair.

Each namespace has its own loopback, so a host there cannot reach the machine's Redis on
127.0.0.1:6379: a relay in the root namespace, on the root end of the host's veth pair, forwards
to it. PostgreSQL is reached on its Unix socket, which every namespace sees (the filesystem is
shared). Nothing leaves the machine: all traffic is on loopback and the veth pairs.
"""

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# A private range of /30s, one per host: the root side takes .1, the namespace .2.
SUBNETS = ipaddress.ip_network("10.231.0.0/16")
SUBNET_SIZE = 4
COMMAND_TIMEOUT = 10
REDIS = "127.0.0.1:6379"
RELAY_PORT = 6379
RELAY_TIMEOUT = 10
# Every command the tests need from outside Python, by Debian package.
TOOLS = {"ip": "iproute2", "haproxy": "haproxy", "socat": "socat"}


@dataclass(frozen=True)
class Namespace:
    """A network namespace, its veth pair and the address a host listens on inside it."""

    name: str
    outer_link: str
    inner_link: str
    outer_address: str
    address: str


def ip(*args: str) -> None:
    """Run one `ip` command; fail with its error output."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _add_veth(ns: Namespace) -> None:
    """Make the namespace's veth pair: one end in the root namespace, the other in ``ns``."""
    ip("link", "add", ns.outer_link, "type", "veth", "peer", "name", ns.inner_link, "netns", ns.name)


def _quietly(*args: str) -> None:
    """Run one `ip` command whose failure is no matter (removing what may not exist)."""
    subprocess.run(["ip", *args], capture_output=True, timeout=COMMAND_TIMEOUT, check=False)


def missing_tool() -> str | None:
    """Return why these tests cannot run here (a tool absent, no privilege for namespaces), or None."""
    for tool, package in TOOLS.items():
        if not shutil.which(tool):
            return f"{tool} not installed (Debian package {package})"
    if os.geteuid() != 0:
        return "ip netns needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    # Root in a container may still be refused namespaces or veth pairs: try one.
    probe = namespace_for(0)
    try:
        ip("netns", "add", probe.name)
        try:
            _add_veth(probe)
        finally:
            _quietly("link", "del", probe.outer_link)
            _quietly("netns", "del", probe.name)
    except AssertionError as exc:
        return f"network namespaces unavailable here: {exc}"
    return None


def namespace_for(index: int) -> Namespace:
    """Name host ``index``'s namespace, links and addresses after this process, so runs never collide."""
    pid = os.getpid()
    slot = (pid * 2 + index) % (SUBNETS.num_addresses // SUBNET_SIZE)
    base = SUBNETS.network_address + slot * SUBNET_SIZE
    # Link names are at most 15 characters: "sah" + up to 7 digits + "o"/"i" + the index.
    return Namespace(
        f"sentiment-api-{pid}-{index}", f"sah{pid}o{index}", f"sah{pid}i{index}", str(base + 1), str(base + 2)
    )


@contextmanager
def network_namespace(index: int) -> Iterator[Namespace]:
    """Make host ``index``'s namespace and veth pair; remove them, and every process left in it, on exit."""
    ns = namespace_for(index)
    ip("netns", "add", ns.name)
    try:
        _add_veth(ns)
        ip("addr", "add", f"{ns.outer_address}/30", "dev", ns.outer_link)
        ip("link", "set", ns.outer_link, "up")
        ip("-n", ns.name, "addr", "add", f"{ns.address}/30", "dev", ns.inner_link)
        ip("-n", ns.name, "link", "set", ns.inner_link, "up")
        ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        kill_namespace_processes(ns.name)
        # Deleting one end deletes the pair at once (a namespace's links go later, in the background).
        _quietly("link", "del", ns.outer_link)
        ip("netns", "del", ns.name)


def namespace_pids(name: str) -> list[int]:
    """Return the pids of the processes running in namespace ``name``."""
    done = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    return [int(pid) for pid in done.stdout.split()]


def kill_namespace_processes(name: str) -> None:
    """SIGKILL every process still running in namespace ``name`` (a host the test could not stop)."""
    for pid in namespace_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue  # exited meanwhile


@contextmanager
def redis_relay(ns: Namespace) -> Iterator[str]:
    """Relay the namespace's side of its veth pair to the machine's Redis; yield the URL its host uses.

    The relay listens on the root namespace's end of the pair and accepts only the host's address,
    so the host reaches Redis over TCP as a host on another machine would (with the API's Redis
    timeouts, which only redis:// gets).
    """
    relay = subprocess.Popen(
        [
            "socat",
            f"TCP-LISTEN:{RELAY_PORT},bind={ns.outer_address},fork,reuseaddr,range={ns.address}/32",
            f"TCP:{REDIS}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + RELAY_TIMEOUT
        while not _listening(ns.outer_address, RELAY_PORT):
            if relay.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"socat relay to Redis did not start (exit {relay.poll()})")
            time.sleep(0.05)  # polling loop with a deadline
        yield f"redis://{ns.outer_address}:{RELAY_PORT}/0"
    finally:
        relay.terminate()
        relay.wait(timeout=COMMAND_TIMEOUT)


def _listening(address: str, port: int) -> bool:
    """Return True if something listens on ``address``:``port`` (the relay: it accepts only the host,
    so the probe's connection is accepted and then closed by socat, which is all this asks)."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False
