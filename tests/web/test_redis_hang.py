"""A Redis that hangs (accepts connections, never answers) stalls no request: its calls time out
(0.5 s, api/web/limits.py), each worker counts in its own memory, and /readyz says so.

The hung Redis is a loopback listener of the test's own that accepts and then says nothing; the
requests are bounded by a deadline, never timed.
"""

import logging
import socket
import threading
from contextlib import contextmanager, suppress

from tests.e2e import wait_until

# Far above the 0.5 s the storage's calls may take each; reached only if a call waits forever.
DEADLINE_S = 60


@contextmanager
def silent_server():
    """Yield the port of a loopback listener that accepts every connection and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    held = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            with suppress(TimeoutError):
                conn, _ = listener.accept()
                held.append(conn)  # kept open, never read or answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], held
    finally:
        done.set()
        thread.join(DEADLINE_S)
        for conn in [*held, listener]:
            conn.close()


def _within_deadline(call):
    """Run ``call`` in a thread; return its result, or fail if it is still running after DEADLINE_S."""
    result = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(DEADLINE_S)
    assert result, f"still waiting after {DEADLINE_S} s: a hung Redis stalled the request"
    return result[0]


def test_a_hung_redis_stalls_no_request_and_readyz_says_the_limits_are_not_shared(
    make_app, auth_header, caplog
):
    with silent_server() as (port, held):
        app = make_app(RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{port}")
        client = app.test_client()

        def send():
            return [
                client.post("/api/v1/predict", json={"a": "what a lovely day"}, headers=auth_header)
                for _ in range(3)
            ] + [client.get("/api/v1/model", headers=auth_header)]

        with caplog.at_level(logging.WARNING):
            answers = _within_deadline(send)
        assert wait_until(lambda: held, "the hung Redis was asked at all")  # the app did try it
        assert [answer.status_code for answer in answers] == [200] * 4
        assert answers[0].json == {"a": "Positive"}
        assert "X-RateLimit-Limit" in answers[0].headers  # still counted, in the worker's memory
        assert "falling back to in-memory storage" in caplog.text

        ready = _within_deadline(lambda: client.get("/readyz"))
        assert ready.status_code == 200
        assert ready.json["rate_limit_storage"]["shared"] is False
        assert ready.json["rate_limit_storage"]["fallbacks"] >= 1


def test_the_limit_still_holds_in_memory_while_redis_hangs(make_app, auth_header):
    with silent_server() as (port, _):
        app = make_app(RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{port}", RATE_LIMIT="3/minute")
        client = app.test_client()
        statuses = _within_deadline(
            lambda: [client.get("/api/v1/model", headers=auth_header).status_code for _ in range(4)]
        )
        assert statuses == [200, 200, 200, 429]
