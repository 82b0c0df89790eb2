"""The job workers' log lines: one JSON object each, as the server writes them, with the job's id.

The fields are the server's (api/jsonlog.py: time, level, logger, message, request_id, pid) and
``job_id``: the job of the task this process is running, on every line written while it runs,
Celery's own included. Nothing else a library attaches to a record gets in, so no row's text can.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from api.jsonlog import JSONFormatter

# The job whose task this process (a solo-pool worker: one task at a time) is running, or None.
current_job: ContextVar[str | None] = ContextVar("current_job", default=None)


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Run the block with ``job_id`` on every log line, then restore the previous one."""
    token = current_job.set(job_id)
    try:
        yield
    finally:
        current_job.reset(token)


class JobLogFormatter(JSONFormatter):
    """The server's JSON line, plus the id of the job being worked on."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Add the server's fields, then ``job_id``."""
        super().add_fields(log_data, record, message_dict)
        log_data["job_id"] = current_job.get()


def configure(level: str) -> None:
    """Send every log record of this process to stderr as a JSON line, from ``level`` up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JobLogFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Python's warnings (Celery's about running as root, say) become JSON lines too.
    logging.captureWarnings(True)
