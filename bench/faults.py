"""Faults, timed: how long the server takes where the live tests only check what happens.

- *hanging database*: predicts while the history database never answers (a listener that accepts
  and sends nothing), as in tests/history/test_history_live.py. Bound: the slowest under 0.5 s.
- *SIGTERM*: seconds from SIGTERM to the master's exit with a request in flight that is then
  completed, as in tests/server/test_hostile_timeouts.py. Bound: under ``graceful_timeout`` (20 s).
- *slow body*: seconds until the server cuts off a body sent a byte every 0.5 s, with
  REQUEST_TIMEOUT=3, as in tests/server/test_hostile_timeouts.py. Bound: under 8 s.
"""

import select
import signal
import socket
import ssl
import tempfile
import time
from pathlib import Path

from tests.e2e import predict, running_server, wait_until, wait_workers_loaded
from tests.hostile import raw_predict, refused, tls_socket

HANG_REQUESTS, HANG_SLOWEST_MAX_S = 15, 0.5
GRACEFUL_TIMEOUT_S = 20  # gunicorn.conf.py
REQUEST_TIMEOUT_S, DRIP_S, SLOW_BODY_MAX_S = 3, 0.5, 8.0
DATABASES = {
    "mysql": "mysql+pymysql://root@127.0.0.1:{port}/test",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:{port}/test",
}


def measure(tmp=None):
    """Run every fault on servers of their own; return their figures."""
    with tempfile.TemporaryDirectory() as own:
        folder = Path(tmp or own)
        return {
            "hanging_database": [hanging_database(folder / f"hang-{name}", name) for name in DATABASES],
            "sigterm": sigterm(folder / "sigterm"),
            "slow_body": slow_body(folder / "slow-body"),
        }


def hanging_database(folder, name):
    """Predicts while the history database hangs; return the slowest and the median, in seconds."""
    folder.mkdir(parents=True)
    with socket.create_server(("127.0.0.1", 0), backlog=64) as black_hole:
        env = {"API_HISTORY_URL": DATABASES[name].format(port=black_hole.getsockname()[1])}
        with running_server(folder, env=env, workers=1) as server:
            seconds = []
            for _ in range(HANG_REQUESTS):
                started = time.monotonic()
                predict(server)
                seconds.append(time.monotonic() - started)
    seconds.sort()
    row = {
        "database": name,
        "requests": len(seconds),
        "median_s": round(seconds[len(seconds) // 2], 3),
        "slowest_s": round(seconds[-1], 3),
    }
    row["within_bound"] = row["slowest_s"] < HANG_SLOWEST_MAX_S
    print(f"  {name} hanging: slowest predict {row['slowest_s'] * 1000:.0f} ms", flush=True)
    return row


def sigterm(folder):
    """SIGTERM with a request in flight, completed once the server stops accepting; return the exit time."""
    folder.mkdir(parents=True)
    with running_server(folder) as server:
        wait_workers_loaded(server)
        head, body = raw_predict(server)
        with tls_socket(server.port, server.context) as tls:
            tls.sendall(head + body[: len(body) // 2])
            stopped_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: refused(server.port), "the server stops accepting")
            tls.sendall(body[len(body) // 2 :])
            answered = tls.recv(65536).startswith(b"HTTP/1.1 200")
        server.process.wait(timeout=GRACEFUL_TIMEOUT_S + 30)
        exit_s = round(time.monotonic() - stopped_at, 2)
    row = {"exit_s": exit_s, "answered": answered, "returncode": server.process.returncode}
    row["within_bound"] = answered and exit_s < GRACEFUL_TIMEOUT_S
    print(f"  SIGTERM: exited {exit_s:.1f} s after, request in flight answered: {answered}", flush=True)
    return row


def slow_body(folder):
    """A body sent a byte every DRIP_S; return how long until the server cut it off."""
    folder.mkdir(parents=True)
    with running_server(folder, env={"REQUEST_TIMEOUT": str(REQUEST_TIMEOUT_S)}) as server:
        wait_workers_loaded(server)
        head, body = raw_predict(server)
        with tls_socket(server.port, server.context) as tls:
            tls.sendall(head)
            started = time.monotonic()
            cut = None
            for byte in body:
                try:
                    tls.sendall(bytes([byte]))
                except OSError:
                    cut = time.monotonic() - started
                    break
                readable, _, _ = select.select([tls], [], [], DRIP_S)
                if readable and _ended(tls):
                    cut = time.monotonic() - started
                    break
    row = {"request_timeout_s": REQUEST_TIMEOUT_S, "cut_after_s": round(cut, 2) if cut else None}
    row["within_bound"] = cut is not None and cut < SLOW_BODY_MAX_S
    print(f"  slow body: cut off after {row['cut_after_s']} s", flush=True)
    return row


def _ended(tls):
    """Read what the server sent; return True unless it was TLS housekeeping only."""
    tls.setblocking(False)
    try:
        tls.recv(65536)
    except ssl.SSLWantReadError:
        return False  # TLS 1.3 session tickets, no answer
    except OSError:
        return True  # a reset
    finally:
        tls.setblocking(True)
    return True


def table(result):
    """Return the fault figures as plain text."""
    hangs = "; ".join(
        f"{row['database']} slowest {row['slowest_s'] * 1000:.0f} ms (median {row['median_s'] * 1000:.0f} ms)"
        for row in result["hanging_database"]
    )
    term, slow = result["sigterm"], result["slow_body"]
    return "\n".join(
        [
            f"Predicts while the history database hangs ({HANG_REQUESTS} each): {hangs}"
            f" (bound {HANG_SLOWEST_MAX_S * 1000:.0f} ms)",
            f"SIGTERM with a request in flight: exit after {term['exit_s']:.1f} s"
            f" (graceful_timeout {GRACEFUL_TIMEOUT_S} s), the request answered: {term['answered']}",
            f"A body sent a byte every {DRIP_S} s, REQUEST_TIMEOUT={REQUEST_TIMEOUT_S} s:"
            f" cut off after {slow['cut_after_s']} s (bound {SLOW_BODY_MAX_S:g} s)",
        ]
    )
