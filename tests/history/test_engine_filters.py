"""The history database's connections, in this process: a failed INSERT's message never carries the
tweet it bound, each backend gets its timeouts, SQLite its write-ahead log and private file, and the
INSERT is built for the dialect. Each test kills mutants of api/history/engine.py that the behaviour
tests let live (`make mutate`)."""

import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from api.history import engine as history_engine
from api.history.engine import (
    CONNECT_ARGS,
    created_processor,
    insert_statement,
    make_engine,
    sqlite_file,
)
from api.history.schema import COLUMNS, Base

SECRET = "SECRET tweet 7f3a"


def test_a_failed_insert_after_binding_names_no_parameter(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    Base.metadata.create_all(engine)
    statement = insert_statement(engine.dialect)
    # NULL into a NOT NULL column: the driver fails once every parameter, the tweet included, is bound.
    row = (None, "alice", "t1", "Positive", 0.9, "freqlr", "v1", SECRET, None)
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.exec_driver_sql(statement, row)
    assert SECRET not in str(caught.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(caught.value)
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "backend", "pre_ping"),
    [
        ("mysql+pymysql://u@127.0.0.1/db", "mysql", True),
        ("postgresql+psycopg://u@127.0.0.1/db", "postgresql", True),
        ("sqlite://", "sqlite", False),
        # A colon in the path: the scheme is what comes before the first one.
        ("sqlite:///file:h.db?mode=ro&uri=true", "sqlite", False),
        ("mariadb+pymysql://u@127.0.0.1/db", "mariadb", True),
    ],
)
def test_each_backend_gets_its_timeouts_hidden_parameters_and_pre_ping(monkeypatch, url, backend, pre_ping):
    asked = {}
    real = history_engine.create_engine

    def spy(given, **kwargs):
        asked.update(kwargs, url=given)
        return real(given, **kwargs)

    monkeypatch.setattr(history_engine, "create_engine", spy)
    make_engine(url).dispose()
    assert asked == {
        "url": url,
        "hide_parameters": True,
        "pool_pre_ping": pre_ping,
        "connect_args": CONNECT_ARGS.get(backend, {}),
    }
    # A database on the network never waits more than a few seconds to connect.
    assert asked["connect_args"].get("connect_timeout") == (3 if pre_ping else None)


def test_a_backend_with_no_timeouts_of_its_own_gets_none_rather_than_anothers(monkeypatch):
    monkeypatch.delitem(CONNECT_ARGS, "mariadb")
    asked = {}
    real = history_engine.create_engine
    monkeypatch.setattr(history_engine, "create_engine", lambda u, **kw: asked.update(kw) or real(u, **kw))
    make_engine("mariadb+pymysql://u@127.0.0.1/db").dispose()
    assert asked["connect_args"] == {}


def test_sqlite_writes_ahead_and_syncs_at_checkpoints_only(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()


def test_the_sqlite_file_is_made_private_before_sqlite_makes_it(tmp_path):
    path = tmp_path / "deep" / "h.db"
    engine = make_engine(f"sqlite:///{path}")
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.unlink()
    with engine.connect():  # each new connection makes a vanished file private again first
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    engine.dispose()


def test_a_sqlite_file_that_cannot_be_made_is_one_warning_not_a_crash(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = blocker / "h.db"  # under a file: no folder can be made there
    with caplog.at_level(logging.WARNING, logger=history_engine.log.name):
        engine = make_engine(f"sqlite:///{path}")
        with pytest.raises(OperationalError):  # SQLite's own error says so on connecting, with no warning
            engine.connect()
    (record,) = caplog.records
    assert (
        record.getMessage()
        == f"history database {path} cannot be created: [Errno 20] Not a directory: '{path}'"
    )
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///h.db", Path("h.db")),
        ("sqlite:////abs/h.db", Path("/abs/h.db")),
        ("sqlite://", None),
        ("sqlite:///", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:h.db?uri=true", None),
        ("postgresql://u@127.0.0.1/h.db", None),
    ],
)
def test_the_sqlite_file_of_a_url(url, path):
    assert sqlite_file(url) == path


def test_the_insert_names_every_column_in_order_with_the_dialects_marks():
    columns = ", ".join(COLUMNS)
    qmarks = ", ".join("?" * len(COLUMNS))
    assert insert_statement(sqlite.dialect()) == f"INSERT INTO predictions ({columns}) VALUES ({qmarks})"
    assert insert_statement(sqlite.dialect(), rows=2) == (
        f"INSERT INTO predictions ({columns}) VALUES ({qmarks}), ({qmarks})"
    )
    marks = ", ".join(["%s"] * len(COLUMNS))
    statement = insert_statement(mysql.dialect(paramstyle="format"))
    assert statement == f"INSERT INTO predictions ({columns}) VALUES ({marks})"


def test_the_time_is_made_text_once_for_sqlite_and_left_to_other_drivers():
    when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert created_processor(sqlite.dialect())(when) == "2026-01-02 03:04:05.000006"
    assert created_processor(postgresql.dialect())(when) == datetime(2026, 1, 2, 3, 4, 5, 6)
