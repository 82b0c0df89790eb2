"""The job tables, as SQLAlchemy models: what migration 0003 creates and the job store fills.

On the history's declarative base, so that one Alembic chain (migrations/) creates both, in
whichever database each lives.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.history.schema import Base, UTCDateTime

# Column sizes, named once: the migration and the store's checks read them.
ID_CHARS = 32  # uuid4().hex
NAME_CHARS = 64  # token names, as in the history's `token` column; model names and versions
KEY_CHARS = 128  # "token:<name>"
COLUMN_CHARS = 256  # the text and id columns' names a client passes


class JobRecord(Base):
    """One job: who asked, with which model and options, its state and progress, and its times."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    owner: Mapped[str] = mapped_column(String(NAME_CHARS), nullable=False)
    budget_key: Mapped[str] = mapped_column(String(KEY_CHARS), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    model: Mapped[str] = mapped_column(String(NAME_CHARS), nullable=False)
    model_version: Mapped[str] = mapped_column(String(NAME_CHARS), nullable=False)
    input_format: Mapped[str] = mapped_column(String(8), nullable=False)
    output_format: Mapped[str] = mapped_column(String(8), nullable=False)
    detail: Mapped[bool] = mapped_column(Boolean, nullable=False)
    text_column: Mapped[str] = mapped_column(String(COLUMN_CHARS), nullable=False)
    id_column: Mapped[str] = mapped_column(String(COLUMN_CHARS), nullable=False)
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False)
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    chunks_total: Mapped[int] = mapped_column(Integer, nullable=False)
    chunks_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    started: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # A JSON list of at most MAX_ERRORS messages; each names rows, never their text.
    errors: Mapped[str] = mapped_column(Text, nullable=False, default="[]")

    __table_args__ = (
        # A token's listing, newest first, and its count of active jobs.
        Index("ix_jobs_owner_created", "owner", "created"),
        # Retention's search for expired jobs.
        Index("ix_jobs_expires", "expires"),
        {"mysql_charset": "utf8mb4"},
    )


class ChunkRecord(Base):
    """One chunk counted as done: its primary key is what makes a chunk that runs twice count once."""

    __tablename__ = "job_chunks"

    job_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
