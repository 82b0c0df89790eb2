"""What a job is: its states and its record, as the store keeps it and the API shows it.

Flask-free and database-free: the API, the workers and the command-line client all read it.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from model.scoring.output import FORMATS, OutputFormat

# FORMATS re-exported: the job's input and output formats are the scoring command's.
__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "FORMATS",
    "JOBS_PATH",
    "MAX_ERRORS",
    "MEDIA_TYPES",
    "NDJSON_ALIASES",
    "STATES",
    "Job",
    "JobState",
    "OutputFormat",
    "iso",
]

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATES: tuple[JobState, ...] = get_args(JobState)
ACTIVE_STATES: tuple[JobState, ...] = ("queued", "running")
FINAL_STATES: tuple[JobState, ...] = ("succeeded", "failed", "cancelled")
# A job keeps its first errors only: enough to find the bad rows, bounded whatever the file holds.
MAX_ERRORS = 10
# The media type of each format: an upload's Content-Type says its format, a result is sent as its own.
MEDIA_TYPES: dict[OutputFormat, str] = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
# Accepted as NDJSON too: the name some JSON Lines tools send.
NDJSON_ALIASES = ("application/jsonl",)
# Where the API serves a job and its result; the record names them so every layer agrees.
JOBS_PATH = "/api/v1/jobs"


def iso(moment: datetime | None) -> str | None:
    """Return an aware UTC time as ISO 8601 with a Z, as the history shows its times."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Job:
    """One uploaded file being scored: who asked, with what, how far it got, and until when it is kept."""

    id: str  # uuid4().hex: unguessable, so a job's URL leaks nothing about others
    owner: str  # the token's name (never the token)
    budget_key: str  # where the token's work budget is kept (api/web/budget.py)
    state: JobState
    model: str
    model_version: str
    input_format: OutputFormat
    output_format: OutputFormat
    detail: bool
    text_column: str
    id_column: str
    rows_total: int
    rows_done: int
    chunks_total: int
    chunks_done: int
    created: datetime  # all four aware UTC
    started: datetime | None
    finished: datetime | None
    expires: datetime
    errors: list[str] = field(default_factory=list)  # row numbers, never tweet text

    @property
    def active(self) -> bool:
        """Whether the job is still queued or running."""
        return self.state in ACTIVE_STATES

    def rows_per_second(self, now: datetime) -> float | None:
        """Return the rows scored per second since the job started (until it finished); None before."""
        if self.started is None:
            return None
        seconds = ((self.finished or now) - self.started).total_seconds()
        return self.rows_done / seconds if seconds > 0 else None

    def seconds_left(self, now: datetime) -> float | None:
        """Return the time the rest of the rows should take at the rate so far: 0 once succeeded.

        None when there is no estimate: not started, no row scored yet, or stopped short.
        """
        if self.state == "succeeded":
            return 0.0
        rate = self.rows_per_second(now)
        if self.state != "running" or not rate:
            return None
        return max(self.rows_total - self.rows_done, 0) / rate

    def to_json(self, now: datetime) -> dict[str, Any]:
        """Return the job as ``GET /api/v1/jobs/<id>`` shows it."""
        return {
            "id": self.id,
            "state": self.state,
            "model": self.model,
            "model_version": self.model_version,
            "format": self.output_format,
            "detail": self.detail,
            "rows": {"done": self.rows_done, "total": self.rows_total},
            "rows_per_second": self.rows_per_second(now),
            "seconds_left": self.seconds_left(now),
            "created": iso(self.created),
            "started": iso(self.started),
            "finished": iso(self.finished),
            "expires": iso(self.expires),
            "errors": list(self.errors),
            "result": f"{JOBS_PATH}/{self.id}/result" if self.state == "succeeded" else None,
        }
