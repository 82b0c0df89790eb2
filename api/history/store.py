"""Prediction history: scored predictions written to a SQL database off the request's critical path.

A request only puts one tuple on a bounded in-memory queue (``record``); a background
thread per worker (a greenlet under Gunicorn's gevent workers) drains it, a batch of
queued requests at a time. A database that is slow, down or full therefore never delays
or fails a prediction: the batch is dropped, the failure counted and logged (never with
tweet text), and /readyz reports ``"history": {"ok": false, ...}`` until a write
succeeds again.

Under Gunicorn that thread only hands each batch to the server's history writer process
(api/history/writer.py, RemoteHistory), which runs this module's ``History.write``. Elsewhere
(the Flask test client, ``flask run``) the thread writes the database itself; SQLite's
inserts, which gevent cannot make cooperative, then come in multi-row INSERTs of at most
SQLITE_ROWS_PER_STATEMENT rows, one short transaction each, with a turn for every waiting
request between two.
"""

import functools
import itertools
import logging
import queue
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Double, Index, Integer, String, Text, create_engine, delete, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from api import constants as c
from api.files import private_sqlite
from model.paths import PROJECT_ROOT
from model.serving.labels import label_of, sigmoid

log = logging.getLogger(__name__)
# Alembic says "Context impl ..." at INFO on every revision check; the writer logs its own line instead.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

# Rows (one per tweet and model) waiting per worker to be written; a request that would go beyond
# is dropped (and counted) rather than holding memory while the database or the writer is slow.
# About 100 bytes a row (an estimate, not measured): ~20 MB. Counted in rows, not requests, so
# that memory is bounded whatever the requests' size; enough for a ~5 s burst of 100-tweet
# requests on two cores while the low-priority history writer waits (see README).
QUEUE_ROWS = 200_000
# Queued requests merged into one INSERT.
BATCH_REQUESTS = 50
# Retention runs after a write at most this often (seconds), so its DELETEs cost little per request.
RETENTION_INTERVAL = 60.0
# A failing database is logged at most this often (seconds), not once per request.
LOG_INTERVAL = 60.0
# A database that does not answer must not hold the writer (or a history read) for long.
CONNECT_ARGS = {
    "mysql": {"connect_timeout": 3, "read_timeout": 10, "write_timeout": 10},
    "postgresql": {"connect_timeout": 3},
    "sqlite": {"timeout": 1.0},
}
# The columns one INSERT fills, in the order of the rows' tuples.
COLUMNS = ("created", "token", "tweet_id", "label", "score", "model", "version", "text")


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC (MariaDB and SQLite keep no zone) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Store UTC without a zone."""
        return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None

    def process_result_value(self, value, dialect):
        """Read back as UTC."""
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    """Declarative base of the history models; its metadata is what the migrations create."""


class Prediction(Base):
    """One scored tweet: who asked (token name, never the token), what came back, from which model."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    tweet_id: Mapped[str] = mapped_column(String(512), nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    score: Mapped[float] = mapped_column(Double, nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    # Only with API_HISTORY_TEXT=true: tweets are personal data, so they are kept only on request.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        # The per-token listing's; the only secondary index, as each one costs every insert.
        Index("ix_predictions_token_id", "token", "id"),
        # Tweets carry emoji: MariaDB's older "utf8" holds only 3-byte characters.
        {"mysql_charset": "utf8mb4"},
    )

    def as_dict(self):
        """Return the row as the API shows it; ``text`` only if it was stored."""
        row = {
            "id": self.tweet_id,
            "label": self.label,
            "score": self.score,
            "model": self.model,
            "version": self.version,
            "token": self.token,
            "created": self.created.isoformat().replace("+00:00", "Z"),
        }
        if self.text is not None:
            row["text"] = self.text
        return row


def make_engine(url):
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


def _sqlite_wal(dbapi_connection, _record):
    """Use SQLite's write-ahead log: readers never wait for the writer, and commits are short.

    synchronous=NORMAL: in WAL mode a commit then needs no fsync of its own (the log is
    synced at checkpoints). A power cut may lose the last commits, never corrupt the file;
    for a history of predictions that trade is worth the shorter commits.
    """
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def insert_statement(dialect, rows=1):
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


# Rows per SQLite INSERT statement, and per transaction: an eighth of what its limit on bound
# parameters allows (32,766; 999 before 3.32), so that each one holds the worker's event loop
# for a few milliseconds at most (511 rows, at about 5 us a row).
SQLITE_ROWS_PER_STATEMENT = (32766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(COLUMNS) // 8


def alembic_config(url):
    """Return the Alembic configuration of this project's migrations, pointed at ``url``."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade(url):
    """Bring the database at ``url`` to the newest migration (``alembic upgrade head``)."""
    command.upgrade(alembic_config(url), "head")


def head_revision(url):
    """Return the newest migration's revision."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def schema_is_current(engine, head):
    """Return True if the database's migration revision is ``head``."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


class History:
    """One worker's history writer: a bounded queue, a lazily started writer thread, counters."""

    def __init__(self, url, store_text=False, max_rows=100_000, max_age_days=30, shared_loop=True):
        self.url = url
        self.store_text = store_text
        self.max_rows = max_rows
        self.max_age = timedelta(days=max_age_days)
        self.engine = make_engine(url)
        self.backend = self.engine.dialect.name
        self._insert = insert_statement(self.engine.dialect)
        # The multi-row SQLite INSERT per row count, built once: batches often repeat a size.
        self._sqlite_insert = functools.lru_cache(maxsize=64)(
            functools.partial(insert_statement, self.engine.dialect)
        )
        # TypeDecorator and dialect processing of `created`, applied once per request (see _rows).
        self._created = _created_processor(self.engine.dialect)
        # Read now, at start-up: parsing the migrations in the writer would hold up requests
        # (a greenlet runs Python code without yielding).
        self.head = head_revision(url)
        self.queue = queue.Queue()
        self.queued_rows = 0
        self._queue_lock = threading.Lock()
        self.ok = True
        self.failures = 0
        self.dropped = 0
        # Called after each failed write, and for each request dropped from a full queue;
        # api/web/metrics.py points them at its counters.
        self.on_failure = lambda: None
        self.on_drop = lambda: None
        self.retention_interval = RETENTION_INTERVAL
        # True when writes run in a worker, beside its requests: SQLite's then come in short
        # transactions. False in the history writer process (api/history/writer.py).
        self.shared_loop = shared_loop
        self._schema_checked = False
        self._retained_at = float("-inf")
        self._logged_at = float("-inf")
        self._thread = None
        self._start_lock = threading.Lock()

    def record(self, token, tweets, scores, versions):
        """Queue one request's scored tweets for writing; never blocks, never raises.

        ``scores`` is ``{model: [log-odds per tweet]}``, ``versions`` ``{model: version}``.
        """
        texts = list(tweets.values()) if self.store_text else None
        item = (datetime.now(UTC), token, list(tweets), texts, scores, versions)
        rows = len(tweets) * len(scores)
        self._ensure_started()
        with self._queue_lock:
            full = self.queued_rows + rows > QUEUE_ROWS
            if not full:
                self.queued_rows += rows
                self.queue.put_nowait(item)
        if full:
            self.dropped += 1
            self.on_drop()
            self._warn("history queue full: request not recorded (%d dropped so far)", self.dropped)

    def state(self):
        """Describe the history for /readyz."""
        return {"enabled": True, "ok": self.ok, "failures": self.failures, "dropped": self.dropped}

    def recent(self, limit, token=None):
        """Return the newest ``limit`` rows as dicts, only ``token``'s unless it is None."""
        # By id, the order rows were stored: newest first, along the primary key or (token, id).
        query = select(Prediction).order_by(Prediction.id.desc()).limit(limit)
        if token is not None:
            query = query.where(Prediction.token == token)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Prediction(**row._mapping).as_dict() for row in rows]

    def flush(self, timeout=10.0):
        """Wait until every queued request has been written or dropped (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"history not flushed within {timeout}s")
            time.sleep(0.01)

    def enforce_retention(self, conn):
        """Delete rows older than the maximum age, then all but the newest ``max_rows``.

        Both by an id boundary, then one ranged DELETE on the primary key. Ids follow the
        time rows were stored, so the first row young enough to keep is found by walking
        the primary key from the oldest row: the walk covers only the rows it deletes.
        """
        cutoff = datetime.now(UTC) - self.max_age
        kept = conn.execute(
            select(Prediction.id).where(Prediction.created >= cutoff).order_by(Prediction.id).limit(1)
        ).scalar()
        old = delete(Prediction) if kept is None else delete(Prediction).where(Prediction.id < kept)
        conn.execute(old)
        # The id of the newest row beyond the limit: one walk down the primary key.
        boundary = conn.execute(
            select(Prediction.id).order_by(Prediction.id.desc()).offset(self.max_rows).limit(1)
        ).scalar()
        if boundary is not None:
            conn.execute(delete(Prediction).where(Prediction.id <= boundary))

    def _ensure_started(self):
        """Start the writer on first use: a worker that never predicts holds no thread or connection."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
                    self._thread.start()

    def _run(self):
        """Drain the queue forever, one INSERT per batch of queued requests."""
        while True:
            items = [self.queue.get()]
            while len(items) < BATCH_REQUESTS:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            with self._queue_lock:
                # Out of the queue: the batch in hand is bounded by BATCH_REQUESTS instead.
                self.queued_rows -= row_count(items)
            try:
                self.write(items)
            finally:
                for _ in items:
                    self.queue.task_done()

    def write(self, items):
        """Insert the rows of ``items``; on a database error count it, log it and drop them."""
        rows = [row for item in items for row in _rows(self._created, *item)]
        try:
            self._insert_rows(rows)
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            self.on_failure()
            self.ok = False
            # The exception's text, never its parameters (hide_parameters), so no tweet text is logged.
            self._warn(
                "history write failed, %d row(s) not recorded (%d failure(s) so far): %s: %s",
                len(rows),
                self.failures,
                type(exc).__name__,
                getattr(exc, "orig", None) or exc,
            )
            return
        if not self.ok:
            log.info("history database answers again: writing resumed")
        self.ok = True

    def _insert_rows(self, rows):
        """Migrate if needed, insert ``rows``, and apply retention when due."""
        if not self._schema_checked:
            # Normally the server's start-up migrated already; this covers a database that was
            # down then (or a test app): migrate once it answers.
            if not schema_is_current(self.engine, self.head):
                upgrade(self.url)
                log.info("history database migrated to revision %s", self.head)
            self._schema_checked = True
        if self.backend == "sqlite" and self.shared_loop:
            # Many rows per statement (a third cheaper than executemany's row at a time), one
            # short transaction each, and a turn for waiting requests between two. Never a turn
            # inside a transaction: the other workers' writers wait for SQLite's write lock in C,
            # stalling their own requests.
            for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
                if start:
                    time.sleep(0)  # under gevent, a yield to the worker's other greenlets
                chunk = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
                with self.engine.begin() as conn:
                    conn.exec_driver_sql(self._sqlite_insert(len(chunk)), _flat(chunk))
        elif self.backend == "sqlite":
            # The history writer process: nothing else waits on it, so one transaction (one commit).
            with self.engine.begin() as conn:
                for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
                    chunk = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
                    conn.exec_driver_sql(self._sqlite_insert(len(chunk)), _flat(chunk))
        else:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(self._insert, rows)
        if time.monotonic() - self._retained_at >= self.retention_interval:
            with self.engine.begin() as conn:
                self.enforce_retention(conn)
            self._retained_at = time.monotonic()

    def _warn(self, msg, *args):
        """Log a warning at most once per LOG_INTERVAL, so a dead database does not flood the log."""
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL:
            self._logged_at = now
            log.warning(msg, *args)


def row_count(items):
    """Return the number of rows queued requests make: one per tweet and model."""
    return sum(len(keys) * len(scores) for _, _, keys, _, scores, _ in items)


def _flat(rows):
    """Return rows' values as one tuple: the parameters of a multi-row INSERT."""
    return tuple(itertools.chain.from_iterable(rows))


def _created_processor(dialect):
    """Return what turns a request's aware UTC time into the value the driver stores.

    SQLite's driver would otherwise format the datetime again for every row, and its
    default adapter is deprecated: the text is made once, in SQLAlchemy's own format.
    """
    bind = Prediction.__table__.c.created.type.bind_processor(dialect) or (lambda value: value)
    if dialect.name != "sqlite":
        return bind

    def to_text(value):
        value = bind(value)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    return to_text


def _rows(bind_created, created, token, keys, texts, scores, versions):
    """Expand one queued request into rows (tuples of COLUMNS): one per tweet and model."""
    created = bind_created(created)
    texts = texts if texts is not None else [None] * len(keys)
    return [
        (created, token, key, label_of(score), sigmoid(score), model, versions[model], text)
        for model, model_scores in scores.items()
        for key, score, text in zip(keys, model_scores, texts, strict=True)
    ]


def state(app):
    """Describe ``app``'s history for /readyz."""
    history = app.extensions.get(c.EXT_HISTORY)
    if history is None:
        return {"enabled": False, "ok": True, "failures": 0, "dropped": 0}
    return history.state()
