"""The history store: the only code that writes or reads the history database (SQLAlchemy, Alembic).

``insert`` stores a batch of records and never raises: a database that is slow, down or
full makes it count the failure (api/history/outcome.py), log it without tweet text and
return False. ``recent`` reads the newest rows, ``add_feedback`` joins a caller's labels to
its stored answers, ``live_accuracy`` and ``drift_windows`` read what api/history/monitor.py
publishes (their queries in api/history/reads.py); each raises HistoryReadError when the
database does not answer. Retention (by rows and by age, of predictions and, on feedback's
writes, of feedback alike) runs after a write, at most once a minute; a database the server
could not migrate at start-up is migrated at the first write that reaches it.

Two processes write through a store: the server's history writer (api/history/writer.py)
in one transaction per batch, and, outside Gunicorn (the Flask test client, ``flask run``),
a thread of the app's own process (api/history/queue.py). There SQLite's inserts, which
gevent cannot make cooperative, come in multi-row INSERTs of at most
SQLITE_ROWS_PER_STATEMENT rows, one short transaction each, with a turn for every waiting
request between two.
"""

import functools
import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.history import reads
from api.history.engine import SQLITE_ROWS_PER_STATEMENT, created_processor, insert_statement, make_engine
from api.history.errors import HistoryReadError
from api.history.messages import Record
from api.history.outcome import Outcome, WriteState
from api.history.reads import Answer, Served
from api.history.schema import Base, Feedback, Prediction
from api.settings import Settings
from model.paths import PROJECT_ROOT
from model.serving.labels import label_of, sigmoid

if TYPE_CHECKING:
    from alembic.config import Config

# What migrations/env.py takes from here: the models' metadata and the engine maker.
__all__ = ["Base", "HistoryReadError", "Prediction", "Store", "make_engine", "upgrade"]

log = logging.getLogger(__name__)
# Alembic says "Context impl ..." at INFO on every revision check; the writer logs its own line instead.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

# Retention runs after a write at most this often (seconds), so its DELETEs cost little per request.
RETENTION_INTERVAL = 60.0

# One row of COLUMNS (api/history/schema.py), as the driver takes it.
Row = tuple[Any, str, str, str, float, str, str, str | None, float | None]


# Alembic (with Mako and Pygments, ~10 MiB and ~0.4 s per process) is imported inside the functions
# below, which migrate or compare revisions: only the history writer, the job stores and ``migrate``
# call them, never an HTTP worker serving predictions.


def alembic_config(url: str) -> "Config":
    """Return the Alembic configuration of this project's migrations, pointed at ``url``."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest migration (``alembic upgrade head``)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def head_revision(url: str) -> str | None:
    """Return the newest migration's revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def schema_is_current(engine: Engine, head: str | None) -> bool:
    """Return True if the database's migration revision is ``head``."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


class Store:
    """One process's connection to the history database: inserts, reads, retention, migration."""

    def __init__(
        self, url: str, max_rows: int = 100_000, max_age_days: float = 30, shared_loop: bool = True
    ) -> None:
        self.url = url
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
        self._created = created_processor(self.engine.dialect)
        self.outcome = Outcome(log, "history database answers again: writing resumed")
        self.retention_interval = RETENTION_INTERVAL
        # True when writes run in a worker, beside its requests: SQLite's then come in short
        # transactions. False in the history writer process (api/history/writer.py).
        self.shared_loop = shared_loop
        self._schema_checked = False
        self._retained_at = self._feedback_retained_at = float("-inf")

    @functools.cached_property
    def head(self) -> str | None:
        """Return the newest migration's revision, read once, at this store's first write.

        Not at start-up: an HTTP worker reads the history but never writes it under Gunicorn (the
        history writer does), and need not import Alembic. The writer reads it on its first batch,
        in a process of its own, where parsing the migrations holds up no request.
        """
        return head_revision(self.url)

    @classmethod
    def from_settings(cls, settings: Settings, shared_loop: bool = True) -> "Store":
        """Return the store of ``settings``' history database, with its retention limits."""
        return cls(
            settings.HISTORY_URL,
            max_rows=settings.HISTORY_MAX_ROWS,
            max_age_days=settings.HISTORY_MAX_AGE_DAYS,
            shared_loop=shared_loop,
        )

    def insert(self, records: Sequence[Record]) -> bool:
        """Store the rows of ``records``; on a database error count it, log it, drop them; return success."""
        rows = [row for record in records for row in self._rows(record)]
        try:
            self._migrate_once()
            self._insert_rows(rows)
            if time.monotonic() - self._retained_at >= self.retention_interval:
                self.enforce_retention()
                self._retained_at = time.monotonic()
        except (SQLAlchemyError, OSError) as exc:
            return self.outcome.failed(exc, "history write failed, %d row(s) not recorded", len(rows))
        return self.outcome.succeeded()

    def state(self) -> WriteState:
        """Describe this store's writes for /readyz."""
        return self.outcome.state()

    def recent(
        self, limit: int, token: str | None = None, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Return the newest ``limit`` rows below row id ``before`` as dicts, and the next page's ``before``.

        Only ``token``'s rows unless it is None. The next ``before`` is the last row's id, or None
        when no row follows. Raises HistoryReadError when the database does not answer.
        """
        return reads.recent(self.engine, limit, token, before)

    def add_feedback(self, token: str, labels: Mapping[str, str]) -> tuple[int, list[str]]:
        """Store ``token``'s true labels (``{tweet id: label}``), joined to its newest stored answers.

        All or nothing: return (rows stored, []) or, if some ids have no stored prediction of
        ``token``, (0, those ids) and store nothing. One row per model that answered; a new label
        for a tweet replaces the old. Raises HistoryReadError when the database does not answer.
        """
        ids, created = list(labels), datetime.now(UTC)
        # No migration here: a stored prediction, which feedback needs, means the schema is current.
        try:
            with self.engine.begin() as conn:
                newest = reads.newest_answers(conn, token, ids)
                answered = {tweet for tweet, _ in newest}
                missing = [key for key in ids if key not in answered]
                if missing:
                    return 0, missing
                position = {key: i for i, key in enumerate(ids)}

                def order(item: tuple[tuple[str, str], Answer]) -> tuple[int, str]:
                    return position[item[0][0]], item[0][1]  # the request's order, then the model's name

                for part in reads.parts(ids):
                    conn.execute(delete(Feedback).where(Feedback.token == token, Feedback.tweet_id.in_(part)))
                rows = [
                    {"created": created, "token": token, "tweet_id": tweet, "label": labels[tweet],
                     "model": model, "version": version, "predicted": predicted, "prediction_id": row_id}
                    for (tweet, model), (row_id, version, predicted) in sorted(newest.items(), key=order)
                ]  # fmt: skip
                conn.execute(insert(Feedback), rows)
            # Feedback is kept as long and as many as predictions, pruned by its own writes.
            if time.monotonic() - self._feedback_retained_at >= self.retention_interval:
                self.enforce_retention(Feedback)
                self._feedback_retained_at = time.monotonic()
        except (SQLAlchemyError, OSError) as exc:
            raise HistoryReadError(f"feedback write failed: {type(exc).__name__}") from exc
        return len(rows), []

    def live_accuracy(self, window: int) -> dict[Served, tuple[int, float]]:
        """Return {(model, version): (feedback rows, accuracy)} over each one's newest ``window`` rows."""
        return reads.live_accuracy(self.engine, window)

    def drift_windows(
        self, served: Iterable[Served], window: int, scan: int
    ) -> dict[Served, tuple[list[float], list[float]]]:
        """Return {(model, version): (P(Positive), unknown shares)} of each one's newest ``window`` rows."""
        return reads.drift_windows(self.engine, served, window, scan)

    def feedback_texts(self) -> Iterator[tuple[str, str | None, str]]:
        """Yield (tweet id, text, label) once per token and tweet whose feedback found its text stored."""
        return reads.feedback_texts(self.engine)

    def enforce_retention(self, table: type[Prediction] | type[Feedback] = Prediction) -> None:
        """Delete ``table``'s rows older than the maximum age, then all but the newest ``max_rows``.

        Both by an id boundary, then one ranged DELETE on the primary key. Ids follow the
        time rows were stored, so the first row young enough to keep is found by walking
        the primary key from the oldest row: the walk covers only the rows it deletes.
        """
        cutoff = datetime.now(UTC) - self.max_age
        with self.engine.begin() as conn:
            kept = conn.execute(
                select(table.id).where(table.created >= cutoff).order_by(table.id).limit(1)
            ).scalar()
            conn.execute(delete(table) if kept is None else delete(table).where(table.id < kept))
            # The id of the newest row beyond the limit: one walk down the primary key.
            boundary = conn.execute(
                select(table.id).order_by(table.id.desc()).offset(self.max_rows).limit(1)
            ).scalar()
            if boundary is not None:
                conn.execute(delete(table).where(table.id <= boundary))

    def dispose(self) -> None:
        """Close the pooled connections (tests, and a process that is done with the database)."""
        self.engine.dispose()

    def _migrate_once(self) -> None:
        """Migrate the database on the first write if it is behind."""
        if self._schema_checked:
            return
        # Normally the server's start-up migrated already; this covers a database that was
        # down then (or a test app): migrate once it answers.
        if not schema_is_current(self.engine, self.head):
            upgrade(self.url)
            log.info("history database migrated to revision %s", self.head)
        self._schema_checked = True

    def _insert_rows(self, rows: list[Row]) -> None:
        """Insert ``rows``: SQLite's in multi-row statements, another database's in one executemany."""
        if self.backend != "sqlite":
            with self.engine.begin() as conn:
                conn.exec_driver_sql(self._insert, rows)
        elif self.shared_loop:
            # Many rows per statement (a third cheaper than executemany's row at a time), one
            # short transaction each, and a turn for waiting requests between two. Never a turn
            # inside a transaction: the other workers' writers wait for SQLite's write lock in C,
            # stalling their own requests.
            for number, chunk in enumerate(_chunks(rows)):
                if number:
                    time.sleep(0)  # under gevent, a yield to the worker's other greenlets
                with self.engine.begin() as conn:
                    conn.exec_driver_sql(self._sqlite_insert(len(chunk)), _flat(chunk))
        else:
            # The history writer process: nothing else waits on it, so one transaction (one commit).
            with self.engine.begin() as conn:
                for chunk in _chunks(rows):
                    conn.exec_driver_sql(self._sqlite_insert(len(chunk)), _flat(chunk))

    def _rows(self, record: Record) -> list[Row]:
        """Expand one record into rows of COLUMNS: one per tweet and model."""
        created = self._created(record.created)
        token, keys, versions = record.token, record.keys, record.versions
        texts = record.texts if record.texts is not None else [None] * len(keys)
        sampled, unknown = record.sampled or [], record.unknown or {}
        shares = {model: dict(zip(sampled, unknown[model], strict=True)) for model in unknown}
        return [
            (created, token, key, label_of(score), sigmoid(score), model, versions[model], text, got(i))
            for model, scores in record.scores.items()
            for got in [shares.get(model, {}).get]
            for i, (key, score, text) in enumerate(zip(keys, scores, texts, strict=True))
        ]


def _chunks(rows: list[Row]) -> Iterator[list[Row]]:
    """Yield ``rows`` in runs of at most SQLITE_ROWS_PER_STATEMENT."""
    for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
        yield rows[start : start + SQLITE_ROWS_PER_STATEMENT]


def _flat(rows: list[Row]) -> tuple[Any, ...]:
    """Return rows' values as one tuple: the parameters of a multi-row INSERT."""
    return tuple(itertools.chain.from_iterable(rows))
