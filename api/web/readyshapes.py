"""The states /readyz reports (history, rate-limit storage, job broker), declared once for OpenAPI.

The drift it reports has its own module (api/web/driftshapes.py); the whole body is shapes.py's.
"""

from pydantic import BaseModel, Field


class HistoryState(BaseModel):
    """The prediction history, as /readyz reports it."""

    enabled: bool = Field(description="The server keeps a history.")
    ok: bool = Field(
        description="Its last write succeeded (false: the database failed, predictions are still served)."
    )
    failures: int = Field(ge=0, description="Failed batch writes.")
    dropped: int = Field(
        ge=0,
        description="Requests this worker left out because its write queue was full (every worker's:"
        " sentiment_history_dropped_total).",
    )


class StorageState(BaseModel):
    """Where the rate limits are counted, as /readyz reports it."""

    shared: bool = Field(
        description="Limits are counted in the configured storage; false while a worker falls back to its"
        " own memory."
    )
    fallbacks: int = Field(ge=0, description="Times a worker fell back to its own memory.")


class JobsState(BaseModel):
    """The job queue's broker, as /readyz reports it: one that is down does not make the server unready."""

    broker: str = Field(description="embedded (the server's own worker), amqp or redis.")
    ok: bool = Field(description="The broker answered its last check.")
    error: str | None = Field(description="Why it did not (never its URL or password).")
    embedded: bool = Field(description="Jobs run on the worker process this server starts.")
