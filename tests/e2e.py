"""Starting and talking to real servers: port 0 and the port they report, readiness polling, HTTPS."""

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from api.ops.certs import generate
from api.ops.tokens import create_token
from model.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
# Two tweets whose labels no reasonable model gets wrong: the live tests' known answer.
BODY = {"t1": "I love this, what a great day :)", "t2": "worst service ever, so angry"}
LABELS = {"t1": "Positive", "t2": "Negative"}
OPENSSL_CONF = ROOT / "deploy" / "openssl.cnf"
# What Gunicorn is given after its command: the server as `make api-start` runs it.
SERVER_ARGS = ("--config", "gunicorn.conf.py", "wsgi:app")


@dataclass
class Server:
    """A running Gunicorn: where it listens, how to trust it, a valid token, its process and log."""

    url: str
    port: int
    token: str
    context: ssl.SSLContext
    certs: Path
    tokens_file: Path
    process: subprocess.Popen
    log_path: Path

    def log(self):
        """Return everything the server has written so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(tmp, env=None, workers=2, ready=True, client_cert=None, args=SERVER_ARGS):
    """Start Gunicorn exactly as `make api-start` does, with its own certificates and token.

    ``tmp`` is a fresh folder; ``env`` adds or overrides environment variables;
    ``client_cert`` is a (cert, key) pair the readiness probe presents (mutual TLS);
    ``args`` replaces Gunicorn's config and app (make bench's ablation only).
    The server is stopped with SIGTERM (then SIGKILL) on exit.
    """
    certs = tmp / "certs"
    if not (certs / "server.crt").exists():
        generate(certs)
    tokens_file = tmp / "tokens.json"
    token = create_token(tokens_file, "e2e", replace=True)  # a folder may serve twice: new token each time
    full_env = {
        **os.environ,
        "HOST": "127.0.0.1",
        # Port 0: the kernel picks a free port as Gunicorn binds, and Gunicorn logs it (no race with
        # another process taking a port chosen in advance).
        "PORT": "0",
        "WORKERS": str(workers),
        "OPENSSL_CONF": str(OPENSSL_CONF),
        "API_TLS_CERT": str(certs / "server.crt"),
        "API_TLS_KEY": str(certs / "server.key"),
        "API_TOKENS_FILE": str(tokens_file),
        "API_TLS_CLIENT_CA": str(certs / "ca.crt"),
        "API_RATE_LIMIT": "100000/minute",
        "API_WORK_LIMIT": "1000000000/minute",
        "API_MAX_IN_FLIGHT": "1000",
        "API_AUTH_FAILURE_LIMIT": "100000/minute",
        # Each server its own history, never the project's instance/history.db.
        "API_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}",
        # ...and its own jobs: files, and the embedded broker's queue folders under it.
        "API_JOBS_DIR": str(tmp / "jobs"),
        **(env or {}),
    }
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *args],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    context = client_context(certs / "ca.crt")
    if client_cert:
        context.load_cert_chain(*client_cert)
    try:
        port = wait_for_port(log_path, process)
        url = f"https://localhost:{port}"
        server = Server(url, port, token, context, certs, tokens_file, process, log_path)
        if ready:
            wait_ready(server.url, context, process, log_path)
            if not full_env.get("API_JOBS_BROKER_URL", "").strip():
                wait_embedded_jobs_worker(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port():
    """Return a TCP port on loopback that is free right now (racy: another process may take it first).

    Only for a server that cannot report the port it got; prefer port 0 and wait_for_port.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Gunicorn's line once it has bound its sockets, in the JSON log or plain text alike.
LISTENING = re.compile(r"Listening at: https?://[^\s,\"]+:(\d+)")


def wait_for_port(log_path, process, timeout=120):
    """Return the port a server started with PORT=0 logged it listens on; fail if it exits or never says."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return int(found[1])
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)  # polling loop with a deadline
    raise AssertionError(f"server logged no listening port after {timeout}s:\n{log_path.read_text()}")


def client_context(cafile):
    """An HTTPS client context that verifies the server against ``cafile``."""
    return ssl.create_default_context(cafile=str(cafile))


def request(url, context, body=None, token=None, method=None):
    """Send one HTTPS request; return (status, headers, parsed JSON body)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def wait_ready(url, context, process, log_path, timeout=60):
    """Poll ``url``/readyz until it answers 200; fail with the server log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if request(url + "/readyz", context)[0] == 200:
                return
        except (OSError, ssl.SSLError):
            pass
        time.sleep(0.2)  # polling loop with a deadline
    raise AssertionError(f"server not ready after {timeout}s:\n{log_path.read_text()}")


def wait_until(condition, what, timeout=30):
    """Poll ``condition()`` until it returns something true, and return that; fail naming ``what`` after
    ``timeout`` seconds (a deadline for a slow machine, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)  # polling loop with a deadline


def wait_for_token(out_path, process, timeout=120):
    """Return the first token printed by `make api-start` (a line that starts with sa_)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tokens = [line for line in out_path.read_text().splitlines() if line.startswith("sa_")]
        if tokens:
            return tokens[0]
        assert process.poll() is None, out_path.read_text()
        time.sleep(0.2)  # polling loop with a deadline
    raise AssertionError(f"no token printed:\n{out_path.read_text()}")


def log_records(text):
    """Return a server log as dicts, one per line (each line is a JSON object); a line still being
    written at the end is left out."""
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line]


def child_pids(parent):
    """Return the pids of a process's children, read from /proc."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        if int(fields[1]) == parent:
            pids.add(int(stat.parent.name))
    return pids


def dirty_arbiter_pids(server):
    """Return the pids the server's log gives its dirty arbiters (the history writer's supervisor)."""
    found = (DIRTY_ARBITER.fullmatch(record["message"]) for record in log_records(server.log()))
    return {int(match[1]) for match in found if match}


DIRTY_ARBITER = re.compile(r"Spawned dirty arbiter \(pid: (\d+)\) at .*")


def worker_pids(server):
    """Return the pids of the server's HTTP workers: the master's children but its dirty arbiter."""
    return child_pids(server.process.pid) - dirty_arbiter_pids(server)


def history_writer_pids(server):
    """Return the pids of the server's history writer processes (its dirty arbiter's children)."""
    return {pid for arbiter in dirty_arbiter_pids(server) for pid in child_pids(arbiter)}


def wait_for_respawn(server, victim, count, timeout=10):
    """Return the server's worker pids once ``victim`` is gone and ``count`` workers run again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(server)
        if victim not in pids and len(pids) == count:
            return pids
        time.sleep(0.1)  # polling loop with a deadline
    raise AssertionError(f"worker {victim} not replaced in {timeout}s: workers are {worker_pids(server)}")


def access_records(text, path=None):
    """Return the access lines of a server log (only those for ``path``, if given), as dicts."""
    return [
        record
        for record in log_records(text)
        if record["logger"] == "gunicorn.access" and path in (None, record["path"])
    ]


def predict(server, token=None, conn=None):
    """POST BODY (over ``conn``, else a new verified TLS connection); return (status, parsed body)."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
    headers = {"Authorization": f"Bearer {token or server.token}", "Content-Type": "application/json"}
    try:
        conn.request("POST", "/api/v1/predict", json.dumps(BODY), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            conn.close()


# A worker that is still loading its models accepts nothing, and the first one then takes every
# connection: wait until both have loaded, from the log, without spending any request of the budget.
BOOT_TIMEOUT_S = 60


def wait_embedded_jobs_worker(server):
    """Wait (at most BOOT_TIMEOUT_S) until the server's embedded job worker says it is ready.

    A server is ready once it could take a job; the worker's start-up lines (Celery's own warnings
    included) then never land in the middle of a test that watches the log.
    """
    wait_until(
        lambda: any(r["message"].startswith("jobs worker ready") for r in log_records(server.log())),
        "the embedded job worker's 'jobs worker ready' line",
        timeout=BOOT_TIMEOUT_S,
    )


def wait_workers_loaded(server, workers=2):
    """Wait (at most BOOT_TIMEOUT_S) until ``workers`` worker processes have logged their model loaded."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        loaded = {r["pid"] for r in log_records(server.log()) if r["message"].startswith("model freqlr")}
        if len(loaded) >= workers:
            return
        time.sleep(0.1)  # polling loop with a deadline
    raise AssertionError(f"fewer than {workers} workers loaded their models in {BOOT_TIMEOUT_S} s")
