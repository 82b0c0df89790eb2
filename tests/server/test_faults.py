"""Faults on a running Gunicorn: a worker killed under load, the tokens file edited, log storage failing.

The log storage tests mount small tmpfs filesystems, so they need root with
permission to mount (as in this sandbox); elsewhere they fail at ``mount``
with its message. Linux refuses to remount a filesystem read-only while a file
on it is open for writing ("mount point is busy"), and the server keeps its
log open, so a log cannot turn read-only under a running server: the test
checks that refusal, then covers the case that does happen, log rotation
(SIGUSR1) onto a read-only filesystem mounted over the log directory.
"""

import http.client
import itertools
import os
import re
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import datetime

import pytest

from api.ops.tokens import create_token, revoke_token
from api.server.logger import FAILURE_REPORT_INTERVAL
from tests.e2e import (
    LABELS,
    access_records,
    dirty_arbiter_pids,
    log_records,
    predict,
    running_server,
    wait_for_respawn,
    wait_until,
    worker_pids,
)

pytestmark = pytest.mark.e2e


def answers_by_worker(server, token, minimum=6, timeout=10):
    """Send requests over new connections until every worker answered one; return {pid: {statuses}}.

    Which worker answered is read from the access log, which records its pid.
    """
    workers = {str(pid) for pid in worker_pids(server)}
    mark, sent = len(server.log()), 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        predict(server, token)
        sent += 1
        answered = {}
        for line in access_records(server.log()[mark:], "/api/v1/predict"):
            answered.setdefault(str(line["pid"]), set()).add(line["status"])
        if sent >= minimum and workers <= answered.keys():
            return answered
    raise AssertionError(f"not every worker of {workers} answered in {timeout}s:\n{server.log()[mark:]}")


def wait_for_workers(server, count=2, timeout=20):
    """Block until ``count`` workers have answered a request: each has its signal handlers by then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len({line["pid"] for line in access_records(server.log(), "/api/v1/predict")}) >= count:
            return
        assert predict(server)[0] == 200
    raise AssertionError(f"fewer than {count} workers answered in {timeout}s")


class Load(threading.Thread):
    """One client: POST requests over new connections until told to stop; records (start, ok)."""

    def __init__(self, server, stop):
        super().__init__(daemon=True)
        self.server, self.stop, self.results = server, stop, []

    def run(self):
        """Send requests back to back; a refused or cut connection counts as a failure."""
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                ok = predict(self.server) == (200, LABELS)
            except (OSError, http.client.HTTPException):
                ok = False
            self.results.append((started, ok))


def test_killing_a_worker_fails_only_the_requests_in_flight(tmp_path):
    threads = 4
    with running_server(tmp_path) as server:
        wait_for_workers(server)
        before = worker_pids(server)
        stop = threading.Event()
        clients = [Load(server, stop) for _ in range(threads)]
        for client in clients:
            client.start()
        wait_until(lambda: all(len(client.results) >= 5 for client in clients), "every client served")
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        at_kill = [len(client.results) for client in clients]
        after = wait_for_respawn(server, victim, len(before))
        # Every client is served again, several times, after the kill: the lost worker's share moved.
        wait_until(
            lambda: all(
                sum(ok for _, ok in client.results[mark:]) >= 5
                for client, mark in zip(clients, at_kill, strict=True)
            ),
            "every client served again after the kill",
            timeout=60,
        )
        stop.set()
        for client in clients:
            client.join(timeout=15)
        assert predict(server) == (200, LABELS)
    results = [result for client in clients for result in client.results]
    failed = sum(not ok for _, ok in results)
    print(f"worker {victim} killed: {failed} of {len(results)} requests failed")
    # Each client has one request in flight at a time: at most one each was lost with the worker.
    assert failed <= threads
    assert not any(client.is_alive() for client in clients)
    assert all(client.results[-1][1] for client in clients)  # every client is served again
    print(f"workers {sorted(before)} -> {sorted(after)}")


def every_worker_answers(server, token, status, timeout=30):
    """Send requests until every worker answers ``token`` with ``status`` alone; return {pid: {statuses}}.

    Each worker re-reads the tokens file every API_TOKEN_RELOAD_SECONDS: until it has, its
    answers are the old ones, which this waits out (with a deadline) rather than sleeping.
    """
    deadline = time.monotonic() + timeout
    while True:
        answered = answers_by_worker(server, token)
        if all(statuses == {status} for statuses in answered.values()):
            return answered
        assert time.monotonic() < deadline, f"not every worker answers {status} in {timeout}s: {answered}"


def test_token_changes_reach_every_worker(tmp_path):
    # Revoked-token requests are failed logins: lift the brute-force limit so they stay 401s, not 429s.
    with running_server(tmp_path, env={"API_AUTH_FAILURE_LIMIT": "100000/minute"}) as server:
        wait_for_workers(server)
        new = create_token(server.tokens_file, "new")
        every_worker_answers(server, new, 200)
        revoke_token(server.tokens_file, "new")
        every_worker_answers(server, new, 401)
        # Garbage in place of the file: every worker keeps the last good set and says so.
        server.tokens_file.write_text("{ this is not json")
        workers = worker_pids(server)

        def every_worker_complained():
            """Serve requests on every worker (each re-reads the file as it serves); have all complained?"""
            answers_by_worker(server, server.token)
            return workers <= {line["pid"] for line in complaints(server)}

        wait_until(every_worker_complained, "every worker's complaint")
        kept = answers_by_worker(server, server.token)
        still_revoked = answers_by_worker(server, new)
    assert all(statuses == {200} for statuses in kept.values()), kept
    assert all(statuses == {401} for statuses in still_revoked.values()), still_revoked


def complaints(server):
    """Return the log lines in which a worker says the tokens file is unusable and it keeps the old set."""
    found = re.compile(r"tokens file \S+ unusable, keeping the previous 1 token\(s\): not valid JSON")
    return [line for line in log_records(server.log()) if found.search(line["message"])]


def assert_serves_quietly(server, requests, conn=None):
    """Send ``requests`` predictions; all must succeed, and the log must hold no traceback or token."""
    statuses = [predict(server, conn=conn)[0] for _ in range(requests)]
    assert statuses == [200] * requests
    log = server.log()
    assert "Traceback" not in log
    assert server.token not in log
    return log


def errors_matching(log, pattern):
    """Return the ERROR lines of ``log`` whose message matches ``pattern``."""
    return [
        line for line in log_records(log) if line["level"] == "ERROR" and re.match(pattern, line["message"])
    ]


def test_access_log_on_a_full_device(tmp_path):
    with running_server(tmp_path, env={"ACCESS_LOG": "/dev/full"}) as server:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
        try:
            log = assert_serves_quietly(server, 200, conn=conn)
        finally:
            conn.close()
        log = assert_serves_quietly(server, 20)
    # One line per worker at most once a minute (FAILURE_REPORT_INTERVAL), not one per request:
    # checked by the lines' own times, whatever the test's speed.
    failures = errors_matching(log, r"writing to log /dev/full failed, records lost: .*No space left")
    assert failures, log
    for pid in {line["pid"] for line in failures}:
        times = [datetime.fromisoformat(line["time"]) for line in failures if line["pid"] == pid]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
        assert all(gap >= FAILURE_REPORT_INTERVAL - 0.01 for gap in gaps), log


@contextmanager
def tmpfs(path, options):
    """Mount a tmpfs with ``options`` at ``path`` for the duration; unmount it after."""
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True, capture_output=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def fill(path):
    """Write to ``path`` until the filesystem is full."""
    with open(path, "wb", buffering=0) as handle, pytest.raises(OSError, match="No space left"):
        for _ in range(1000):
            handle.write(b"x" * 4096)


REOPEN_FAILED = re.compile(r"cannot reopen log \S+access.log, still writing to the old file: .*Read-only.*")


def test_log_filesystem_full_then_rotated_onto_a_read_only_one(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    with (
        tmpfs(logs, "size=64k"),
        running_server(tmp_path, env={"ACCESS_LOG": str(logs / "access.log")}) as server,
    ):
        assert_serves_quietly(server, 10)
        fill(logs / "filler")
        log = assert_serves_quietly(server, 120)  # ~8 KB of access lines: more than any page left
        assert errors_matching(log, r"writing to log \S+access.log failed, records lost: .*No space left")

        remount = subprocess.run(["mount", "-o", "remount,ro", str(logs)], capture_output=True, text=True)
        assert remount.returncode != 0 and "busy" in remount.stderr, "a log open for writing went read-only"

        # Every process holding the log reports once: the master, both workers, and the dirty
        # arbiter that runs the history writer (the master forwards the signal to it).
        must = {server.process.pid, *worker_pids(server)}
        may = must | dirty_arbiter_pids(server)

        def reopen_failures():
            """Return the pids that reported a failed reopen, one entry per report."""
            return [r["pid"] for r in log_records(server.log()) if REOPEN_FAILED.fullmatch(r["message"])]

        with tmpfs(logs, "ro,size=16k"):
            server.process.send_signal(signal.SIGUSR1)  # what logrotate sends
            deadline = time.monotonic() + 10
            while not must <= set(reopen_failures()) and time.monotonic() < deadline:
                time.sleep(0.2)  # polling loop with a deadline
            log = assert_serves_quietly(server, 20)
            assert server.process.poll() is None
        reported = reopen_failures()
        assert must <= set(reported) <= may, log
        assert len(reported) == len(set(reported)), log  # once each
