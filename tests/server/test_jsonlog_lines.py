"""The JSON line's short path (api/jsonlog.py) writes exactly what python-json-logger's general one does."""

import json
import logging
import sys

import pytest
from pythonjsonlogger.json import JsonFormatter

from api import jsonlog as logs

ACCESS = {
    "request_id": "abc",
    "method": "GET",
    "route": None,
    "path": "/caf\u00e9\u2028",
    "status": 200,
    "bytes": None,
    "duration_ms": 1.5,
    "remote_addr": "::1",
}


def _record(msg="%s %s %s", args=("GET", "/caf\u00e9", 200), extra=None, exc_info=None):
    """A record as a logger makes it."""
    logger = logging.getLogger("gunicorn.access")
    return logger.makeRecord(logger.name, logging.INFO, "f.py", 1, msg, args, exc_info, extra=extra)


@pytest.mark.parametrize(
    "record",
    [
        _record(extra=ACCESS),
        _record(extra={**ACCESS, "job_id": "0" * 32}),
        _record("plain message, no arguments", ()),
    ],
    ids=["access", "job", "plain"],
)
def test_the_short_path_writes_python_json_loggers_line(record):
    formatter = logs.JSONFormatter()
    general = JsonFormatter.format(formatter, record)
    assert formatter.format(record) == general


def test_a_record_with_a_traceback_still_carries_it():
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("failed", (), exc_info=sys.exc_info())
    line = json.loads(logs.JSONFormatter().format(record))
    assert "ValueError: boom" in line["exc_info"]
    assert line["message"] == "failed"
