"""The history's tables as SQLAlchemy models: what the migrations (migrations/) create, the store fills."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Double, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# The columns one INSERT fills, in the order of the store's row tuples.
COLUMNS = ("created", "token", "tweet_id", "label", "score", "model", "version", "text", "unknown")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (MariaDB and SQLite keep no zone) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC without a zone."""
        return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
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
    # The share of the tweet's tokens the model never saw: only for a sample of each request's
    # tweets (api/history/queue.py), the drift monitor's input; NULL for the others.
    unknown: Mapped[float | None] = mapped_column(Double, nullable=True)

    __table_args__ = (
        # The per-token listing's. Each index costs every insert, so there are only two.
        Index("ix_predictions_token_id", "token", "id"),
        # Feedback's join (migration 0004): a token's rows of given ids in about 1 ms, where a walk of
        # the token's rows took 7-64 ms at 40,000 of them (on SQLite, holding the worker's event loop);
        # measured at 4.3 -> 5.5 us per inserted row in the history writer.
        Index("ix_predictions_token_tweet", "token", "tweet_id"),
        # Tweets carry emoji: MariaDB's older "utf8" holds only 3-byte characters.
        {"mysql_charset": "utf8mb4"},
    )

    def as_dict(self) -> dict[str, Any]:
        """Return the row as the API shows it; ``text`` only if it was stored."""
        row: dict[str, Any] = {
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


class Feedback(Base):
    """A caller's true label for a tweet it had scored, joined at once to that model's stored answer.

    One row per model that answered (the newest stored row of that token, id and model), so live
    accuracy is read from this table alone and outlives the prediction rows' retention.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    tweet_id: Mapped[str] = mapped_column(String(512), nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)  # the caller's: the truth
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    predicted: Mapped[str] = mapped_column(String(16), nullable=False)  # the model's answer
    # The predictions row it was joined to (no foreign key: retention deletes those rows first).
    prediction_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        # A second feedback on a tweet replaces the first: found by token and id.
        Index("ix_feedback_token_tweet", "token", "tweet_id"),
        # Live accuracy: the newest rows of each model and version.
        Index("ix_feedback_model_version_id", "model", "version", "id"),
        {"mysql_charset": "utf8mb4"},
    )
