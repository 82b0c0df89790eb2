"""The history's reads: the listing, feedback, live accuracy and drift: queries over the store's engine.

Kept apart from api/history/store.py (its writes, retention and migration) only for size; the
store's methods of the same names call these.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import BigInteger, Select, case, func, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from api.history.errors import HistoryReadError
from api.history.schema import Feedback, Prediction

# The per-token listing's index (api/history/schema.py).
CALLER_INDEX = "ix_predictions_token_id"
# Ids per IN (...) of a feedback join: far below every backend's limit on bound parameters.
IDS_PER_QUERY = 500
# (model, version): the key of live accuracy and of drift.
Served = tuple[str, str]
# A stored answer a feedback joins: (predictions row id, version, label).
Answer = tuple[int, str, str]


def recent(
    engine: Engine, limit: int, token: str | None, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Return the newest ``limit`` rows below row id ``before`` as dicts, and the next page's ``before``.

    Only ``token``'s rows unless it is None. The next ``before`` is the last row's id, or None
    when no row follows. Raises HistoryReadError when the database does not answer.
    """
    try:
        with engine.connect() as conn:
            # One row more than asked: whether a next page exists, without a count.
            rows = conn.execute(listing(limit + 1, token, before)).all()
    except (SQLAlchemyError, OSError) as exc:
        raise HistoryReadError(f"history read failed: {type(exc).__name__}") from exc
    page, following = rows[:limit], rows[limit - 1].id if len(rows) > limit else None
    return [Prediction(**row._mapping).as_dict() for row in page], following


def listing(limit: int, token: str | None, before: int | None) -> Select[Prediction]:
    """Return the query of the newest ``limit`` rows below id ``before``: one ranged walk down an index.

    By id, the order rows were stored: newest first, down the primary key, or down (token, id) for
    one token's rows; PostgreSQL walks the primary key for a token it expects to hold most rows,
    skipping the others'. LIMIT stops either walk (tests/history/test_history_cursor.py, the plans).
    """
    query = select(Prediction).order_by(Prediction.id.desc()).limit(limit)
    if token is not None:
        query = query.where(Prediction.token == token)
        # MariaDB would read (token, id) by the token alone, every row of it newer than the cursor:
        # forced, it reads the range (token, id < before).
        query = query.with_hint(Prediction, f"FORCE INDEX ({CALLER_INDEX})", "mysql")
    if before is not None:
        # A BIGINT: PostgreSQL would cast the cursor to the key's 32-bit INTEGER and refuse one beyond.
        query = query.where(Prediction.id < literal(before, BigInteger))
    return query


def live_accuracy(engine: Engine, window: int) -> dict[Served, tuple[int, float]]:
    """Return {(model, version): (feedback rows, accuracy)} over each one's newest ``window`` rows."""
    try:
        with engine.connect() as conn:
            served = conn.execute(select(Feedback.model, Feedback.version).distinct()).all()
            result = {}
            for model, version in served:
                newest = (
                    select(Feedback.label, Feedback.predicted)
                    .where(Feedback.model == model, Feedback.version == version)
                    .order_by(Feedback.id.desc())
                    .limit(window)
                    .subquery()
                )
                right = func.sum(case((newest.c.label == newest.c.predicted, 1), else_=0))
                count, correct = conn.execute(select(func.count(), right)).one()
                if count:
                    result[(model, version)] = (count, int(correct) / count)
    except (SQLAlchemyError, OSError) as exc:
        raise HistoryReadError(f"history read failed: {type(exc).__name__}") from exc
    return result


def drift_windows(
    engine: Engine, served: Iterable[Served], window: int, scan: int
) -> dict[Served, tuple[list[float], list[float]]]:
    """Return {(model, version): (P(Positive), unknown shares)} of each one's newest ``window`` rows.

    Only among the newest ``scan`` rows of the table: a bounded walk down the primary key (a model
    that answers too few of them has a short window). Unknown shares are the sampled rows' only.
    """
    try:
        with engine.connect() as conn:
            top = conn.execute(select(func.max(Prediction.id))).scalar() or 0
            result = {}
            for model, version in served:
                rows = conn.execute(
                    select(Prediction.score, Prediction.unknown)
                    .where(Prediction.id > top - scan, Prediction.model == model)
                    .where(Prediction.version == version)
                    .order_by(Prediction.id.desc())
                    .limit(window)
                ).all()
                result[(model, version)] = (
                    [row.score for row in rows],
                    [row.unknown for row in rows if row.unknown is not None],
                )
    except (SQLAlchemyError, OSError) as exc:
        raise HistoryReadError(f"history read failed: {type(exc).__name__}") from exc
    return result


def feedback_texts(engine: Engine) -> Iterator[tuple[str, str | None, str]]:
    """Yield (tweet id, text, label) once per token and tweet whose feedback found its text stored."""
    query = (
        select(Feedback.token, Feedback.tweet_id, Prediction.text, Feedback.label)
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.text.is_not(None))
        .order_by(Feedback.id)
    )
    seen: set[tuple[str, str]] = set()
    with engine.connect() as conn:
        for token, tweet, text, label in conn.execute(query):
            if (token, tweet) not in seen:
                seen.add((token, tweet))
                yield tweet, text, label


def newest_answers(conn: Connection, token: str, ids: list[str]) -> dict[tuple[str, str], Answer]:
    """Return {(tweet id, model): (row id, version, label)} of ``token``'s newest stored answer to each id."""
    newest: dict[tuple[str, str], Answer] = {}
    columns = (Prediction.id, Prediction.tweet_id, Prediction.model, Prediction.version, Prediction.label)
    for part in parts(ids):
        query = select(*columns).where(Prediction.token == token, Prediction.tweet_id.in_(part))
        for row_id, tweet, model, version, label in conn.execute(query):
            if (tweet, model) not in newest or row_id > newest[(tweet, model)][0]:
                newest[(tweet, model)] = (row_id, version, label)
    return newest


def parts(ids: list[str]) -> Iterator[list[str]]:
    """Yield ``ids`` in runs of at most IDS_PER_QUERY."""
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield ids[start : start + IDS_PER_QUERY]
