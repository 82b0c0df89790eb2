"""The two hosts and HAProxy: starting, stopping and killing API hosts, and asking HAProxy what it sees."""

import csv
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e import OPENSSL_CONF, ROOT, access_records, client_context, log_records, wait_ready, wait_until
from tests.hosts.load import Outcome
from tests.hosts.network import Namespace, namespace_pids

HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
# The name HAProxy checks the hosts' certificate for (SENTIMENT_API_NAME).
SERVICE_NAME = "sentiment-api"
BACKEND = "sentiment_api_hosts"
# Each host listens on its own namespace's address: the same port in both, as on two machines.
API_PORT = 5000
STOP_TIMEOUT = 40  # above gunicorn.conf.py's graceful_timeout (20 s)
READY_TIMEOUT = 120  # two hosts loading their models at once on a busy 2-core machine
# The lines (start, part) of a host's log once its embedded job worker takes jobs (api/jobs/worker.py)
# and its dirty worker has started every app, the history writer last (Gunicorn's dirty worker).
DIRTY_READY = (("jobs worker ready", ""), ("Dirty worker ", " listening on "))
# One worker per host: two hosts, HAProxy and the clients share this machine's cores.
HOST_WORKERS = "1"
# Only for the tests: HAProxy's log on its stdout (the shipped file logs to /dev/log).
TEST_GLOBAL = "global\n    log stdout format raw local0\n"


@dataclass
class Host:
    """One API host: its namespace, its environment and, while it runs, its Gunicorn master."""

    name: str
    ns: Namespace
    env: dict[str, str]
    folder: Path
    process: subprocess.Popen | None = None
    # The logs of this test's starts, in order (the folder keeps every test's).
    logs: list[Path] = field(default_factory=list)
    starts: int = 0

    @property
    def address(self) -> str:
        """Where the host listens (address:port), reached from the root namespace over its veth pair."""
        return f"{self.ns.address}:{API_PORT}"

    @property
    def url(self) -> str:
        """The host's own URL."""
        return f"https://{self.address}"

    def start(self) -> None:
        """Start Gunicorn in the host's namespace as `make api-start` does (a new log for each start)."""
        log_path = self.folder / f"{self.name}-{self.starts}.log"
        self.starts += 1
        self.logs.append(log_path)
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
        with open(log_path, "wb") as log:
            # `ip netns exec` execs the command: the pid is Gunicorn's master. A session of its own,
            # so that kill() reaches every process of the host, as a machine that dies.
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", self.ns.name, *command],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, ca: Path) -> None:
        """Wait until the host's own /readyz answers 200 (through its address, not HAProxy)."""
        assert self.process is not None
        wait_ready(self.url, client_context(ca), self.process, self.logs[-1], timeout=READY_TIMEOUT)

    def wait_dirty_worker(self) -> None:
        """Wait until the host's dirty worker has started its apps (job worker, history writer).

        /readyz does not wait for them; a host stopped while they are still starting takes the dirty
        arbiter's whole graceful timeout (18 s) to stop.
        """

        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.logs[-1].read_text()
            messages = [r["message"] for r in log_records(_json_lines(self.logs[-1]))]
            return all(any(m.startswith(start) and end in m for m in messages) for start, end in DIRTY_READY)

        wait_until(ready, f"{self.name}'s job worker and history writer started", READY_TIMEOUT)

    def terminate(self) -> int:
        """SIGTERM the master (Gunicorn's graceful stop) and return its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL every process of the host at once: master, workers, history writer, job worker.

        Returns once none is left: dying is not instant (each process's memory is freed first), and
        until the last one holding the listening socket is gone the kernel still completes connections.
        """
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)
        wait_until(
            lambda: not namespace_pids(self.ns.name), f"every process of {self.name} gone", STOP_TIMEOUT
        )

    def stop(self) -> None:
        """Stop the host if it runs, gracefully, then by force (teardown)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.terminate()
        except subprocess.TimeoutExpired:
            self.kill()

    def request_ids(self, path: str) -> set[str]:
        """Return the request ids of the host's access lines for ``path`` answered 200, over every start."""
        return set().union(*self.request_ids_by_start(path))

    def client_addresses(self, path: str) -> set[str]:
        """Return the client addresses the host's access lines for ``path`` give, over this test's starts."""
        return {r["remote_addr"] for log in self.logs for r in access_records(_json_lines(log), path)}

    def request_ids_by_start(self, path: str) -> list[set[str]]:
        """Return the request ids of the access lines for ``path`` answered 200, one set per start."""
        records = (access_records(_json_lines(log), path) for log in self.logs)
        return [{r["request_id"] for r in lines if r["status"] == 200} for lines in records]


def _json_lines(log: Path) -> str:
    """Return a host log's JSON lines: a Python warning printed at a worker's exit is not one."""
    lines = log.read_text(errors="replace").splitlines(keepends=True)
    return "".join(line for line in lines if line.startswith("{") and line.endswith("\n"))


@dataclass
class Balancer:
    """HAProxy with the shipped configuration: its process, port, admin socket and log."""

    process: subprocess.Popen
    port: int
    admin_socket: Path
    log_path: Path

    def admin(self, command: str) -> str:
        """Send one command to HAProxy's runtime API and return its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin_socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """Return `show stat`'s row of each server of the API backend, by server name."""
        text = self.admin("show stat").removeprefix("# ")
        rows = csv.DictReader(line for line in text.splitlines() if line)
        return {row["svname"]: row for row in rows if row["pxname"] == BACKEND and row["svname"] != "BACKEND"}

    def status(self, server: str) -> str:
        """Return HAProxy's state of ``server``: UP, DOWN, or a transition such as "UP 1/3"."""
        return self.servers()[server]["status"]

    def sessions(self, server: str) -> tuple[int, int]:
        """Return HAProxy's (current, total) sessions of ``server`` (show stat's scur and stot)."""
        row = self.servers()[server]
        return int(row["scur"]), int(row["stot"])

    def set_state(self, server: str, state: str) -> None:
        """Set ``server``'s administrative state: "drain" (no new connections) or "ready"."""
        answer = self.admin(f"set server {BACKEND}/{server} state {state}")
        assert answer.strip() == "", answer

    def wait_status(self, server: str, status: str, timeout: float = 60) -> None:
        """Wait until HAProxy reports ``server`` in ``status``."""
        wait_until(lambda: self.status(server) == status, f"HAProxy reporting {server} {status}", timeout)

    def log(self) -> str:
        """Return what HAProxy has logged so far."""
        return self.log_path.read_text(errors="replace")


def served_by(hosts: list[Host], outcomes: list[Outcome], path: str) -> dict[str, set[str]]:
    """Return, per host, the ids of the answered ``outcomes`` its access logs name, once all are logged.

    A host writes a request's access line once the answer is sent, so the last ones may come after
    the client has its answer.
    """
    ids = {o.request_id for o in outcomes if o.status == 200 and o.request_id}

    def logged() -> dict[str, set[str]] | None:
        found = {host.name: ids & host.request_ids(path) for host in hosts}
        return found if set().union(*found.values()) == ids else None

    return wait_until(logged, "every answered request in a host's access log")


def haproxy_environment(servers: list[str], listen: str, ca: Path, admin_socket: Path) -> dict[str, str]:
    """The variables the shipped configuration reads, for hosts at ``servers`` (two address:port)."""
    first, second = servers
    return {
        **os.environ,
        "SENTIMENT_API_LISTEN": listen,
        "SENTIMENT_API_HOST1": first,
        "SENTIMENT_API_HOST2": second,
        "SENTIMENT_API_CA": str(ca),
        "SENTIMENT_API_NAME": SERVICE_NAME,
        "SENTIMENT_API_ADMIN_SOCKET": str(admin_socket),
    }


def start_haproxy(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start HAProxy in the foreground (-db) on the shipped file, after a test-only global section."""
    extra = folder / "test-global.cfg"
    extra.write_text(TEST_GLOBAL)
    with open(folder / "haproxy.log", "wb") as log:
        return subprocess.Popen(
            ["haproxy", "-db", "-f", str(extra), "-f", str(HAPROXY_CONFIG)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def host_environment(
    ns: Namespace, certs: Path, tokens: Path, redis_url: str, history_url: str, jobs: Path
) -> dict[str, str]:
    """A host's environment: the machine's Redis and PostgreSQL, the shared certificates and tokens."""
    return {
        **os.environ,
        "HOST": ns.address,
        "PORT": str(API_PORT),
        "WORKERS": HOST_WORKERS,
        "OPENSSL_CONF": str(OPENSSL_CONF),
        "API_TLS_CERT": str(certs / "server.crt"),
        "API_TLS_KEY": str(certs / "server.key"),
        "API_TOKENS_FILE": str(tokens),
        "API_RATE_LIMIT_STORAGE": redis_url,
        "API_HISTORY_URL": history_url,
        # Shared by every host, as README "Environment variables" asks of API_JOBS_DIR.
        "API_JOBS_DIR": str(jobs),
        "API_WORK_LIMIT": "1000000000/minute",
        "API_MAX_IN_FLIGHT": "1000",
        "API_AUTH_FAILURE_LIMIT": "100000/minute",
    }
