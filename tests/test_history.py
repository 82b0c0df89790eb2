"""Prediction history: rows, store=false, text, retention, per-token visibility, a database that is down.

Each test runs against SQLite, the machine's MariaDB and its PostgreSQL, in a database of its own.
"""

import logging
import socket
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from alembic import command

from api import constants as c
from api import history as history_module
from api.tokenstore import create_token
from tests.conftest import DATABASES
from tests.e2e import free_port

TWEETS = {"t1": "I love this, what a great day :)", "t2": "worst service ever, so angry 😡"}
SERVER_URLS = {
    "mariadb": "mysql+pymysql://root@{host}:{port}/{db}?charset=utf8mb4",
    "postgres": "postgresql+psycopg://postgres@{host}:{port}/{db}",
}
ADMIN_DB = {"mariadb": "test", "postgres": "test"}


@contextmanager
def fresh_database(kind, address=None):
    """Create a database of our own on the ``kind`` server; yield its URL (via ``address``); drop it."""
    host, port = DATABASES[kind]
    name = f"hist_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        SERVER_URLS[kind].format(host=host, port=port, db=ADMIN_DB[kind]), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        via_host, via_port = address or (host, port)
        yield SERVER_URLS[kind].format(host=via_host, port=via_port, db=name)
    finally:
        with admin.connect() as conn:
            if kind == "postgres":
                conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE {name}"))
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request, tmp_path):
    """A URL of an empty history database: a SQLite file, or a fresh MariaDB or PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    with fresh_database(request.param) as url:
        yield url


@pytest.fixture
def history_app(make_app, db_url):
    """Return a factory of apps writing their history to ``db_url``; their writers are flushed on use."""
    apps = []

    def factory(**overrides):
        app = make_app(**{c.HISTORY_URL: db_url, **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions[c.EXT_HISTORY].engine.dispose()


def post(client, header, query="", body=None):
    """POST a predict request; return the response."""
    return client.post(f"/api/v1/predict{query}", json=body or TWEETS, headers=header)


def stored(app):
    """Wait for the app's history writer, then return every row of the predictions table, oldest first."""
    history = app.extensions[c.EXT_HISTORY]
    history.flush()
    with history.engine.connect() as conn:
        return [
            dict(row._mapping)
            for row in conn.execute(sa.select(history_module.Prediction.__table__).order_by("id"))
        ]


def test_rows_have_the_request_key_label_score_model_version_token_and_utc_time(
    history_app, auth_header, tokens
):
    app = history_app()
    client = app.test_client()
    before = datetime.now(UTC)
    detailed = post(client, auth_header, "?model=all&detail=true").get_json()
    rows = stored(app)
    versions = {
        info["name"]: info["version"]
        for info in client.get("/api/v1/models", headers=auth_header).json["models"]
    }
    assert len(rows) == 4  # 2 tweets x 2 models
    for row in rows:
        answer = detailed[row["tweet_id"]][row["model"]]
        assert (row["label"], row["version"], row["token"]) == (
            answer["label"],
            versions[row["model"]],
            "alice",
        )
        assert row["score"] == pytest.approx(answer["score"])
        assert row["text"] is None  # off by default
        created = row["created"].replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
        assert tokens[1] not in repr(row)  # the token's name, never the token
    assert {(row["tweet_id"], row["model"]) for row in rows} == {(k, m) for k in TWEETS for m in versions}


def test_store_false_keeps_a_request_out_of_the_history(history_app, auth_header):
    app = history_app()
    client = app.test_client()
    assert post(client, auth_header, "?store=false", {"secret": "do not keep me"}).status_code == 200
    assert post(client, auth_header, "?store=true", {"kept": "keep me"}).status_code == 200
    assert post(client, auth_header, "", {"default": "kept by default"}).status_code == 200
    assert [row["tweet_id"] for row in stored(app)] == ["kept", "default"]


def test_tweet_text_is_stored_only_when_the_operator_enables_it(history_app, auth_header):
    off = history_app()
    post(off.test_client(), auth_header)
    assert [row["text"] for row in stored(off)] == [None, None]
    listed = off.test_client().get("/api/v1/predictions", headers=auth_header).json["predictions"]
    assert all("text" not in row for row in listed)

    on = history_app(**{c.HISTORY_TEXT: True})
    post(on.test_client(), auth_header)
    texts = [row["text"] for row in stored(on)]
    assert texts[-2:] == list(TWEETS.values())  # emoji included (utf8mb4 on MariaDB)
    listed = on.test_client().get("/api/v1/predictions", headers=auth_header).json["predictions"]
    assert [row["text"] for row in listed[:2]] == list(reversed(TWEETS.values()))


def test_retention_keeps_only_the_newest_max_rows_on_write(history_app, auth_header):
    app = history_app(**{c.HISTORY_MAX_ROWS: 5})
    app.extensions[c.EXT_HISTORY].retention_interval = 0  # on every write, for the test
    client = app.test_client()
    for i in range(4):
        post(client, auth_header, body={f"r{i}a": "good", f"r{i}b": "bad"})
        stored(app)  # one write per request, so the order of the rows is the order of the requests
    assert [row["tweet_id"] for row in stored(app)] == ["r1b", "r2a", "r2b", "r3a", "r3b"]


def test_retention_drops_rows_older_than_max_age(history_app, auth_header):
    app = history_app(**{c.HISTORY_MAX_AGE_DAYS: 30})
    history = app.extensions[c.EXT_HISTORY]
    client = app.test_client()
    now = datetime.now(UTC)
    for age_days, key in ((45, "old"), (29, "recent")):
        with time_machine.travel(now - timedelta(days=age_days), tick=True):
            post(client, auth_header, body={key: "a tweet"})
            stored(app)
    post(client, auth_header, body={"new": "a tweet"})
    assert [row["tweet_id"] for row in stored(app)] == ["old", "recent", "new"]
    with history.engine.begin() as conn:
        history.enforce_retention(conn)
    assert [row["tweet_id"] for row in stored(app)] == ["recent", "new"]


def test_a_caller_sees_only_its_own_rows_and_an_admin_token_sees_all(history_app, tokens):
    path = tokens[0]
    bob = create_token(path, "bob")
    root = create_token(path, "root", admin=True)
    app = history_app()
    client = app.test_client()
    headers = {
        name: {"Authorization": f"Bearer {tok}"}
        for name, tok in (("alice", tokens[1]), ("bob", bob), ("root", root))
    }
    post(client, headers["alice"], body={"a1": "good"})
    post(client, headers["bob"], body={"b1": "bad", "b2": "good"})
    stored(app)

    def listed(name, query=""):
        response = client.get(f"/api/v1/predictions{query}", headers=headers[name])
        assert response.status_code == 200
        return [(row["token"], row["id"]) for row in response.json["predictions"]]

    assert listed("alice") == [("alice", "a1")]
    assert listed("bob") == [("bob", "b2"), ("bob", "b1")]  # newest first
    assert listed("root") == [("bob", "b2"), ("bob", "b1"), ("alice", "a1")]
    assert listed("root", "?limit=1") == [("bob", "b2")]
    assert listed("root", "?limit=1000") == listed("root")


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=%EF%BC%95", "limit"),
        ("?offset=3", "offset"),
    ],
)
def test_a_bad_limit_or_parameter_is_a_400_naming_it(make_app, auth_header, tmp_path, query, key):
    client = make_app(**{c.HISTORY_URL: f"sqlite:///{tmp_path / 'h.db'}"}).test_client()
    response = client.get(f"/api/v1/predictions{query}", headers=auth_header)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert response.json["error"]["key"] == key


def test_store_must_be_true_or_false(client, auth_header):
    response = post(client, auth_header, "?store=no")
    assert response.status_code == 400
    assert (response.json["error"]["code"], response.json["error"]["key"]) == ("invalid_parameter", "store")


def test_listing_needs_a_token(make_app, tmp_path):
    client = make_app(**{c.HISTORY_URL: f"sqlite:///{tmp_path / 'h.db'}"}).test_client()
    assert client.get("/api/v1/predictions").status_code == 401


def test_with_history_off_predictions_are_served_and_the_listing_says_so(client, auth_header):
    assert post(client, auth_header).status_code == 200
    response = client.get("/api/v1/predictions", headers=auth_header)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "history_disabled"
    assert client.get("/readyz").json["history"]["enabled"] is False


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


@pytest.mark.parametrize("kind", [pytest.param(k, marks=getattr(pytest.mark, k)) for k in SERVER_URLS])
def test_a_database_that_is_down_never_fails_a_prediction_and_history_recovers(
    make_app, auth_header, kind, caplog
):
    forwarder = Forwarder(DATABASES[kind])
    with fresh_database(kind, address=("127.0.0.1", forwarder.port)) as url:
        app = make_app(**{c.HISTORY_URL: url, c.HISTORY_TEXT: True})
        history = app.extensions[c.EXT_HISTORY]
        client = app.test_client()

        # Down from the start: nothing listens on the forwarder's port.
        with caplog.at_level(logging.WARNING, logger="api.history"):
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
        assert "history write failed" in caplog.text
        assert all(text not in caplog.text for text in TWEETS.values())  # no tweet text in the log
        listing = client.get("/api/v1/predictions", headers=auth_header)
        assert (listing.status_code, listing.json["error"]["code"]) == (503, "history_unavailable")

        # Back up: the next request is written, and /readyz says so.
        forwarder.start()
        assert post(client, auth_header, body={"back": "we are back"}).status_code == 200
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
        forwarder.start()
        assert post(client, auth_header, body={"again": "and again"}).status_code == 200
        history.flush()
        assert client.get("/readyz").json["history"]["ok"] is True
        history.engine.dispose()
        forwarder.stop()


def test_a_full_queue_drops_and_counts_instead_of_waiting(make_app, auth_header, tmp_path, monkeypatch):
    monkeypatch.setattr(history_module, "QUEUE_ROWS", 2 * len(TWEETS))  # two requests' rows
    app = make_app(**{c.HISTORY_URL: f"sqlite:///{tmp_path / 'h.db'}"})
    history = app.extensions[c.EXT_HISTORY]
    gate = threading.Event()
    monkeypatch.setattr(history, "write", lambda items: gate.wait(10))  # a database that hangs
    client = app.test_client()
    assert post(client, auth_header).status_code == 200
    while history.queued_rows:  # the writer has taken the first request and hangs on it
        time.sleep(0.01)
    for _ in range(4):
        assert post(client, auth_header).status_code == 200
    gate.set()
    history.flush()
    # One request held by the writer, two queued, two dropped.
    assert client.get("/readyz").json["history"]["dropped"] == 2
    assert app.extensions[c.EXT_METRICS].registry.get_sample_value("sentiment_history_dropped_total") == 2


def test_the_queue_is_bounded_in_rows_whatever_a_requests_size(make_app, auth_header, tmp_path, monkeypatch):
    monkeypatch.setattr(history_module, "QUEUE_ROWS", 3)
    app = make_app(**{c.HISTORY_URL: f"sqlite:///{tmp_path / 'h.db'}"})
    history = app.extensions[c.EXT_HISTORY]
    gate = threading.Event()
    monkeypatch.setattr(history, "write", lambda items: gate.wait(10))  # a database that hangs
    client = app.test_client()
    assert post(client, auth_header, body={"first": "taken by the writer"}).status_code == 200
    while history.queued_rows:
        time.sleep(0.01)
    for size in (4, 2, 2, 1):  # dropped (4 > 3), queued (2), dropped (2 + 2 > 3), queued (2 + 1)
        body = {f"k{i}": "a tweet" for i in range(size)}
        assert post(client, auth_header, body=body).status_code == 200
    assert history.queued_rows == 3  # the 2-tweet and the 1-tweet request
    gate.set()
    history.flush()
    assert history.dropped == 2 and history.queued_rows == 0


def test_admin_flag_in_the_tokens_file(tmp_path):
    from api.tokenstore import TokenStore

    path = tmp_path / "tokens.json"
    # A file written before the flag existed: no "admin" key at all.
    path.write_text(
        '{"version": 1, "tokens": {"old": {"sha256": "'
        + "0" * 64
        + '", "created": "2026-01-01T00:00:00+00:00"}}}'
    )
    create_token(path, "boss", admin=True)
    store = TokenStore(path, reload_seconds=0)
    assert (store.is_admin("old"), store.is_admin("boss"), store.is_admin("nobody")) == (False, True, False)


def test_an_unwritable_sqlite_file_never_fails_a_prediction_and_history_recovers(
    make_app, auth_header, tmp_path
):
    blocker = tmp_path / "db"
    blocker.write_text("a file where the database's folder should be")
    app = make_app(**{c.HISTORY_URL: f"sqlite:///{blocker / 'history.db'}"})
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


def test_the_command_line_creates_admin_tokens_and_migrates(tmp_path, monkeypatch, capsys):
    from api.__main__ import main
    from api.tokenstore import TokenStore

    path = tmp_path / "tokens.json"
    assert main(["token", "--file", str(path), "create", "boss", "--admin"]) == 0
    assert main(["token", "--file", str(path), "create", "pleb"]) == 0
    store = TokenStore(path, reload_seconds=0)
    assert (store.is_admin("boss"), store.is_admin("pleb")) == (True, False)

    url = f"sqlite:///{tmp_path / 'h.db'}"
    monkeypatch.setenv("API_HISTORY_URL", url)
    assert main(["history", "migrate"]) == 0
    engine = sa.create_engine(url)
    assert sa.inspect(engine).has_table("predictions")
    engine.dispose()
    monkeypatch.setenv("API_HISTORY_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert main(["history", "migrate"]) == 1
    assert "history migration failed" in capsys.readouterr().err


def test_a_batch_larger_than_one_statement_is_stored_whole_and_in_order(history_app, auth_header):
    # 1000 tweets x 2 models: SQLite writes them in several multi-row INSERTs.
    app = history_app()
    body = {f"t{i}": f"tweet number {i} {'good' if i % 3 else 'bad'}" for i in range(1000)}
    answer = post(app.test_client(), auth_header, "?model=all", body=body).get_json()
    rows = stored(app)
    assert len(rows) == 2000 > history_module.SQLITE_ROWS_PER_STATEMENT
    assert [row["tweet_id"] for row in rows if row["model"] == "freqlr"] == list(body)
    assert all(row["label"] == answer[row["tweet_id"]][row["model"]] for row in rows)


def test_migration_0002_keeps_the_rows_and_leaves_one_secondary_index(db_url):
    config = history_module.alembic_config(db_url)
    command.upgrade(config, "0001")
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(history_module.Prediction.__table__),
                [
                    {"created": datetime(2026, 1, 1), "token": "alice", "tweet_id": "a", "label": "Positive"}
                    | {"score": 0.9, "model": "freqlr", "version": "v1"},
                ],
            )

        def indexes():
            return {index["name"] for index in sa.inspect(engine).get_indexes("predictions")}

        assert indexes() == {"ix_predictions_token_created", "ix_predictions_created"}
        command.upgrade(config, "head")
        engine.dispose()  # the inspector caches; PostgreSQL's DDL needs other connections closed
        assert indexes() == {"ix_predictions_token_id"}
        with engine.connect() as conn:
            assert conn.execute(sa.select(history_module.Prediction.tweet_id)).scalars().all() == ["a"]
        command.downgrade(config, "0001")
        engine.dispose()
        assert indexes() == {"ix_predictions_token_created", "ix_predictions_created"}
    finally:
        engine.dispose()
