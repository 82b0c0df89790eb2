"""The task messages, typed: what the API and the workers send each other through the broker.

A message carries ids and counts only, never a row of a file: the rows stay in the job's files
(api/jobs/files.py), so a broker, its logs and its disk never hold a tweet. Each payload is validated
when a worker receives it; one that does not fit is logged (by its task's name, not its content) and
dropped, so a malformed or forged message never stops a worker.
"""

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

# A job id: uuid4().hex, as the job store makes them.
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
# Far above any job's chunk count (JOBS_MAX_ROWS / JOBS_CHUNK_ROWS), bounding what a message may name.
MAX_INDEX = 10_000_000


class Message(BaseModel):
    """A task's keyword arguments: exactly these fields, each checked."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def kwargs(self) -> dict[str, Any]:
        """Return the payload as the task's keyword arguments (JSON types only)."""
        return self.model_dump()


class ScoreChunk(Message):
    """Score chunk ``index`` of job ``job_id``; ``paid``: its first rows the budget already paid for."""

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    index: int = Field(ge=0, le=MAX_INDEX)
    # Set when the budget ran out mid-chunk and the task was retried: those rows are not charged again.
    paid: int = Field(0, ge=0)
    # Tries that failed on the job store or files (a database or shared folder down), retried later.
    faults: int = Field(0, ge=0)


class FinishJob(Message):
    """Assemble job ``job_id``'s result from its scored chunks, in order, and mark it succeeded."""

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    faults: int = Field(0, ge=0)


M = TypeVar("M", bound=Message)


def receive(kind: type[M], task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> M | None:
    """Return the message in a task's arguments, or None (logged, without its content) if it is malformed."""
    if args:
        log.warning("task %s: malformed message dropped (positional arguments)", task)
        return None
    try:
        return kind.model_validate(kwargs)
    except ValidationError as exc:
        log.warning("task %s: malformed message dropped (%s)", task, _faults(kind, exc))
        return None


def _faults(kind: type[Message], exc: ValidationError) -> str:
    """Name the fields at fault and the kind of fault: never a value, nor a field name the sender made up."""
    faults = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "message"
        faults.append(f"{field if field in kind.model_fields else 'an unknown field'}: {error['type']}")
    return ", ".join(faults)
