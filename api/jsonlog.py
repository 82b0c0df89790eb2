"""Request ids and JSON log lines, shared by the server process and the app (Flask-free).

Every request gets an id: the client's ``X-Request-ID`` if it is safe to log
(1-128 of ``A-Z a-z 0-9 . _ -``), else a new uuid4 hex, so a hostile value
never reaches the log. The id is echoed in the answer's ``X-Request-ID`` and
carried, through a context variable, into every log line written while the
request is served. Under gevent each connection is a greenlet with a context of
its own, so concurrent requests never see each other's id.

Every log line is one JSON object (python-json-logger) with the fields of
``FIELDS``: time, level, logger, message, request_id, pid; for access lines
``ACCESS_FIELDS``; for a job's lines ``JOB_FIELDS``; a traceback if one was logged. Anything else a library
attaches to a record is left out, so no unvetted value (a header, a tweet) can
reach the log through ``extra``.
"""

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-ID"
# A uuid4 is 122 random bits, its version (4) and variant (RFC 4122) bits set: as integers, the bits kept
# from 128 random ones, and those set.
_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The id of the request being served in this context (a gevent greenlet, a thread), or None.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

FIELDS = ("time", "level", "logger", "message", "request_id", "pid")
ACCESS_FIELDS = ("method", "route", "path", "status", "bytes", "duration_ms", "remote_addr")
# A job's id (api/jobs/, api/web/jobs.py): a uuid4 hex the server made, never client text.
JOB_FIELDS = ("job_id",)
# Formatted by python-json-logger when a record has them: a logged exception's traceback, a stack.
TRACE_FIELDS = ("exc_info", "stack_info")


def safe_request_id(value: str | None) -> str:
    """Return ``value`` if it is a safe request id (1-128 of A-Z a-z 0-9 . _ -), else a new uuid4 hex."""
    if value and SAFE_ID.fullmatch(value):
        return value
    return new_request_id()


def new_request_id() -> str:
    """Return a new request id: a uuid4 in hex (what ``uuid.uuid4().hex`` gives, without a UUID object)."""
    return f"{int.from_bytes(os.urandom(16)) & _UUID4_KEEP | _UUID4_SET:032x}"


@contextmanager
def new_request() -> Iterator[None]:
    """Run the block under a new request id (an answer the server writes itself), then restore the old one."""
    token = request_id.set(new_request_id())
    try:
        yield
    finally:
        request_id.reset(token)


class JSONFormatter(JsonFormatter):
    """One JSON object per record: the fields of FIELDS, then the allowed extras; time in UTC.

    python-json-logger formats the message and a traceback and serialises any
    value; the fields are picked here, by name, rather than copied from the record.
    A record with no traceback or stack and a plain message (every access line, most others)
    takes a shorter path to the same line: python-json-logger's general machinery cost
    ~35 us a line, twice the work itself (make bench's profile).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The encoder python-json-logger makes anew for every line (json.dumps with cls=), made once.
        encoder = self.json_encoder or json.JSONEncoder  # python-json-logger's choice when none is given
        self._encoder: json.JSONEncoder = encoder(
            default=self.json_default, ensure_ascii=self.json_ensure_ascii, indent=self.json_indent
        )
        # The last second formatted and its text up to the seconds: one tuple, replaced whole (threads).
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line, as python-json-logger would."""
        if record.exc_info or record.exc_text or record.stack_info or not isinstance(record.msg, str):
            return super().format(record)
        record.message = record.getMessage()
        log_data: dict[str, Any] = {}
        self.add_fields(log_data, record, {})
        prefix: str = self.prefix
        return prefix + self._encoder.encode(log_data)

    def access_line(self, logger: str, message: str, fields: dict[str, Any], created: float, pid: int) -> str:
        """Return the line ``format`` writes for an INFO record of ``logger`` with these access fields.

        For a writer with no record to give (api/server/logger.py's access lines): making the record
        cost about as much as the line itself.
        """
        log_data = _line(self._time_of(created), "INFO", logger, message, fields, pid)
        prefix: str = self.prefix
        return prefix + self._encoder.encode(log_data)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Return the record's time as ISO 8601 in UTC, to the millisecond."""
        return self._time_of(record.created)

    def _time_of(self, created: float) -> str:
        """Return ``created`` (seconds since the epoch) as ISO 8601 in UTC, to the millisecond."""
        # Rounded to the microsecond first, as datetime.fromtimestamp does: the same text as isoformat's.
        whole = int(created)
        micro = round((created - whole) * 1_000_000)
        if micro == 1_000_000:
            whole, micro = whole + 1, 0
        second, text = self._second
        if second != whole:
            text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (whole, text)
        return f"{text}.{micro // 1000:03d}Z"

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Add FIELDS, then the access fields and traceback the record has; nothing else."""
        extras = record.__dict__
        time, pid = self.formatTime(record), record.process
        log_data.update(_line(time, record.levelname, record.name, record.message, extras, pid))
        log_data.update((key, extras[key]) for key in JOB_FIELDS if key in extras)
        log_data.update((key, message_dict[key]) for key in TRACE_FIELDS if key in message_dict)


def _line(time: str, level: str, logger: str, message: str, extras: Any, pid: int | None) -> dict[str, Any]:
    """Return a line's FIELDS, then the access fields ``extras`` (a record's attributes) holds."""
    line = {
        "time": time,
        "level": level,
        "logger": logger,
        "message": message,
        # An access line names its request itself; any other line is about the current one, if any.
        "request_id": extras.get("request_id") or request_id.get(),
        "pid": pid,
    }
    line.update((key, extras[key]) for key in ACCESS_FIELDS if key in extras)
    return line
