"""Prediction history when things go wrong: a database that is down, a full queue, an unwritable file.

Predictions never fail for the history's sake; the history recovers and /readyz says how it is doing.
"""

import logging
import socket
import threading
from contextlib import suppress

import pytest

from api import constants as c
from tests.conftest import DATABASES
from tests.e2e import free_port, wait_until
from tests.history.helpers import SERVER_URLS, TWEETS, fresh_database, post, stored


class Forwarder:
    """A TCP forwarder we own, standing for a database server we can stop and start at will."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.port = free_port()
        self._listener = None
        self._sockets = []

    def start(self):
        """Listen on ``port`` and forward every connection upstream."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self):
        """Stop listening and cut every forwarded connection: the "server" is down."""
        # shutdown() first: close() alone does not wake a thread blocked in accept() or recv(), and the
        # kernel keeps the socket (listening, or connected) until that thread lets go of it.
        for sock in [self._listener, *self._sockets] if self._listener else self._sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._listener = None
        self._sockets.clear()

    def _accept(self, listener):
        """Forward connections until the listener is closed."""
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        """Copy bytes one way until either side closes."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _failure_lines(caplog):
    """Return the history's write-failure warnings captured so far."""
    return [r for r in caplog.records if r.getMessage().startswith("history write failed")]


@pytest.mark.parametrize("kind", [pytest.param(k, marks=getattr(pytest.mark, k)) for k in SERVER_URLS])
def test_a_database_that_is_down_never_fails_a_prediction_and_history_recovers(
    make_app, auth_header, tokens, kind, caplog
):
    forwarder = Forwarder(DATABASES[kind])
    back, again = {"back": "we are back, SECRET kestrel"}, {"again": "and again, SECRET kestrel"}
    with (
        fresh_database(kind, address=("127.0.0.1", forwarder.port)) as url,
        caplog.at_level(logging.DEBUG, logger="api.history"),
    ):
        app = make_app(HISTORY_URL=url, HISTORY_TEXT=True)
        history = app.extensions[c.EXT_HISTORY]
        # Every failed write logged, not one a minute: the log of each outage is checked below.
        history.store.outcome._warnings.interval = 0
        client = app.test_client()

        # Down from the start: nothing listens on the forwarder's port.
        for _ in range(3):
            response = post(client, auth_header, "?detail=true")
            assert response.status_code == 200
            assert set(response.json) == set(TWEETS)
        history.flush()
        state = client.get("/readyz")
        assert state.status_code == 200
        failures = state.json["history"]["failures"]
        assert failures >= 1  # per batch written: the three requests may share one
        assert state.json["history"] == {"enabled": True, "ok": False, "failures": failures, "dropped": 0}
        assert len(_failure_lines(caplog)) == failures
        listing = client.get("/api/v1/predictions", headers=auth_header)
        assert (listing.status_code, listing.json["error"]["code"]) == (503, "history_unavailable")

        # Back up: the next request is written, and /readyz says so.
        forwarder.start()
        assert post(client, auth_header, body=back).status_code == 200
        history.flush()
        assert client.get("/readyz").json["history"] == {
            "enabled": True,
            "ok": True,
            "failures": failures,
            "dropped": 0,
        }
        listed = client.get("/api/v1/predictions", headers=auth_header).json["predictions"]
        assert [row["id"] for row in listed] == ["back"]

        # Down again while the writer holds connections; up again.
        forwarder.stop()
        assert post(client, auth_header).status_code == 200
        history.flush()
        assert client.get("/readyz").json["history"]["ok"] is False
        assert len(_failure_lines(caplog)) == failures + 1  # the second outage was logged too
        forwarder.start()
        assert post(client, auth_header, body=again).status_code == 200
        history.flush()
        assert client.get("/readyz").json["history"]["ok"] is True
        history.store.dispose()
        forwarder.stop()
    # Both outages and both recoveries: no tweet text and no token in any line.
    secrets = [*TWEETS.values(), *back.values(), *again.values(), tokens[1], "SECRET"]
    assert [secret for secret in secrets if secret in caplog.text] == [], caplog.text


def test_a_full_queue_drops_and_counts_instead_of_waiting(make_app, auth_header, tmp_path, monkeypatch):
    app = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}")
    history = app.extensions[c.EXT_HISTORY]
    history.queue.capacity = 2 * len(TWEETS)  # two requests' rows
    gate = threading.Event()
    monkeypatch.setattr(history.store, "insert", lambda records: gate.wait(10))  # a database that hangs
    client = app.test_client()
    assert post(client, auth_header).status_code == 200
    # The writer has taken the first request and hangs on it.
    wait_until(lambda: not history.queue.queued_rows, "the writer taking the first request")
    for _ in range(4):
        assert post(client, auth_header).status_code == 200
    gate.set()
    history.flush()
    # One request held by the writer, two queued, two dropped.
    assert client.get("/readyz").json["history"]["dropped"] == 2
    assert app.extensions[c.EXT_METRICS].registry.get_sample_value("sentiment_history_dropped_total") == 2


def test_the_queue_is_bounded_in_rows_whatever_a_requests_size(make_app, auth_header, tmp_path, monkeypatch):
    app = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}")
    history = app.extensions[c.EXT_HISTORY]
    history.queue.capacity = 3
    gate = threading.Event()
    monkeypatch.setattr(history.store, "insert", lambda records: gate.wait(10))  # a database that hangs
    client = app.test_client()
    assert post(client, auth_header, body={"first": "taken by the writer"}).status_code == 200
    wait_until(lambda: not history.queue.queued_rows, "the writer taking the first request")
    for size in (4, 2, 2, 1):  # dropped (4 > 3), queued (2), dropped (2 + 2 > 3), queued (2 + 1)
        body = {f"k{i}": "a tweet" for i in range(size)}
        assert post(client, auth_header, body=body).status_code == 200
    assert history.queue.queued_rows == 3  # the 2-tweet and the 1-tweet request
    gate.set()
    history.flush()
    assert history.queue.dropped == 2 and history.queue.queued_rows == 0


def test_an_unwritable_sqlite_file_never_fails_a_prediction_and_history_recovers(
    make_app, auth_header, tmp_path
):
    blocker = tmp_path / "db"
    blocker.write_text("a file where the database's folder should be")
    app = make_app(HISTORY_URL=f"sqlite:///{blocker / 'history.db'}")
    client = app.test_client()
    assert post(client, auth_header).status_code == 200
    app.extensions[c.EXT_HISTORY].flush()
    assert client.get("/readyz").json["history"]["ok"] is False
    assert client.get("/api/v1/predictions", headers=auth_header).status_code == 503

    blocker.unlink()
    blocker.mkdir()
    assert post(client, auth_header, body={"back": "a tweet"}).status_code == 200
    assert [row["tweet_id"] for row in stored(app)] == ["back"]
    assert client.get("/readyz").json["history"]["ok"] is True
