"""The history database's connections: short timeouts, hidden parameters, and SQLite's particulars.

SQLite's file is made 0600 in a 0700 folder before SQLite makes it (it would be 0644:
history is personal data), its journal is a write-ahead log, and its rows go in
multi-row INSERTs sized to hold the event loop for a few milliseconds at most.
"""

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Dialect, Engine, make_url

from api.files import private_file
from api.history.schema import COLUMNS, Prediction

log = logging.getLogger(__name__)

# A database that does not answer must not hold the writer (or a history read) for long.
_MYSQL_ARGS = {"connect_timeout": 3, "read_timeout": 10, "write_timeout": 10}
CONNECT_ARGS = {
    "mysql": _MYSQL_ARGS,
    "mariadb": _MYSQL_ARGS,  # SQLAlchemy's MariaDB dialect, over the same driver
    "postgresql": {"connect_timeout": 3},
    "sqlite": {"timeout": 1.0},
}
# Rows per SQLite INSERT statement, and per transaction: an eighth of what its limit on bound
# parameters allows (32,766; 999 before 3.32), so that each one holds the worker's event loop
# for a few milliseconds at most (455 rows, at about 5 us a row).
SQLITE_ROWS_PER_STATEMENT = (32766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(COLUMNS) // 8


def make_engine(url: str) -> Engine:
    """Return an engine for ``url`` with short timeouts, parameters kept out of error messages."""
    backend = url.split(":", 1)[0].split("+", 1)[0]
    # hide_parameters: an error message must never carry tweet text into the log.
    # Pre-ping finds a network database's dropped connections; a SQLite file has none to drop.
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=backend != "sqlite",
        connect_args=CONNECT_ARGS.get(backend, {}),
    )
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_wal)
        private_sqlite(engine, url)  # SQLite's own files would be 0644: history is personal data
    return engine


def _sqlite_wal(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    """Use SQLite's write-ahead log: readers never wait for the writer, and commits are short.

    synchronous=NORMAL: in WAL mode a commit then needs no fsync of its own (the log is
    synced at checkpoints). A power cut may lose the last commits, never corrupt the file;
    for a history of predictions that trade is worth the shorter commits.
    """
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def sqlite_file(url: str) -> Path | None:
    """Return the database file a ``sqlite:///`` URL names; None for another backend, memory or a URI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def private_sqlite(engine: Engine, url: str) -> None:
    """Have the SQLite file of ``url`` created 0600 in a 0700 folder: now, and before each new connection.

    SQLite creates a missing file with the umask's mode (0644 as a rule) and gives its
    -wal and -shm files the database file's. Before each connection too, so that a file
    that appears while the server runs (its folder made late, the file removed) is private.
    """
    path = sqlite_file(url)
    if path is None:
        return
    _create_sqlite_file(path, warn=True)
    event.listen(engine, "do_connect", lambda *_: _create_sqlite_file(path))


def _create_sqlite_file(path: Path, warn: bool = False) -> None:
    """Create the database file unless it exists; if that fails, SQLite's own connection error says so."""
    try:
        private_file(path)
    except OSError as exc:
        if warn:
            # Like a database that is down: writes fail and are counted, predictions go on.
            log.warning("history database %s cannot be created: %s", path, exc)


def insert_statement(dialect: Dialect, rows: int = 1) -> str:
    """Return the driver-level INSERT of ``rows`` rows of COLUMNS, in ``dialect``'s parameter style.

    Rows go to the driver as plain tuples: SQLAlchemy's per-row parameter
    processing would cost about as much again as SQLite's own insert.
    """
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in COLUMNS)
    table = quote(Prediction.__tablename__)
    values = ", ".join([f"({', '.join([mark] * len(COLUMNS))})"] * rows)
    # Built from constants and the dialect's quoting only; every value is a bound parameter.
    return f"INSERT INTO {table} ({columns}) VALUES {values}"  # noqa: S608


def created_processor(dialect: Dialect) -> Callable[[datetime], Any]:
    """Return what turns a request's aware UTC time into the value the driver stores.

    SQLite's driver would otherwise format the datetime again for every row, and its
    default adapter is deprecated: the text is made once, in SQLAlchemy's own format.
    """
    bind = Prediction.__table__.c.created.type.bind_processor(dialect) or (lambda value: value)
    if dialect.name != "sqlite":
        return bind

    def to_text(value: datetime) -> Any:
        value = bind(value)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    return to_text
