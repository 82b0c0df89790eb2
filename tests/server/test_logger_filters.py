"""Gunicorn's logger to the letter, in this process: a refused request's line names only its client and
its error's kind, an access line holds exactly its fields, a failing log is reported once a minute without
the record, and a log that cannot be reopened keeps the old file. Each test kills mutants of
api/server/logger.py that the behaviour tests let live (`make mutate`)."""

import io
import json
import logging
import logging.handlers
import math
import sys
import warnings
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.http.errors import InvalidHeader

from api import jsonlog as logs
from api.constants import ENVIRON_ROUTE
from api.server import logger as hardened
from api.server.logger import FAILURE_REPORT_INTERVAL, HardenedLogger, _FailureReporter
from api.server.protocol import refused

SECRET = "sa_secret-in-a-header"


@pytest.fixture
def files(tmp_path):
    """A HardenedLogger writing to files in ``tmp_path``; its loggers and warnings restored after."""
    # Gunicorn's loggers and the root: what they held (another test's handlers) is none of the logger's, and
    # is put back after; pytest's own capture handlers are not, as they come and go with each test phase.
    touched = [logging.getLogger(name) for name in ("gunicorn.error", "gunicorn.access", "")]
    saved = [
        (logger, [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")], logger.level)
        for logger in touched
    ]
    for logger in touched:
        logger.handlers = []
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("loglevel", "info")
    log = HardenedLogger(cfg)
    yield SimpleNamespace(log=log, error=tmp_path / "error.log", access=tmp_path / "access.log")
    for handler in (*log.error_log.handlers, *log.access_log.handlers):
        handler.close()
    for logger, handlers, level in saved:
        pytests = [h for h in logger.handlers if type(h).__module__.startswith("_pytest")]
        logger.handlers = handlers + pytests
        logger.setLevel(level)
    logging.captureWarnings(False)


def _lines(path):
    """Return the JSON lines of a log file."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def _response(status="200 OK", headers=(), sent=12):
    """A Gunicorn response as the access log reads it."""
    return SimpleNamespace(status=status, headers=list(headers), sent=sent)


ENVIRON = {
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/api/v1/predict",
    "QUERY_STRING": f"token={SECRET}",
    "HTTP_AUTHORIZATION": f"Bearer {SECRET}",
    "REMOTE_ADDR": "10.0.0.7",
    ENVIRON_ROUTE: "/api/v1/predict",
}


def test_the_apps_records_go_to_the_error_log_as_json_at_its_level(files):
    root = logging.getLogger()
    handler = files.log.error_log.handlers[0]
    assert handler in root.handlers and root.level == logging.INFO
    assert isinstance(handler.formatter, logs.JSONFormatter)
    access = files.log.access_log.handlers[0]
    # Each failure reporter names its own handler's file.
    assert (handler.handleError.name, access.handleError.name) == (handler.baseFilename, access.baseFilename)
    logging.getLogger("api.x").info("hello %s", "there")
    assert [(line["logger"], line["message"]) for line in _lines(files.error)][-1] == ("api.x", "hello there")
    warnings.warn("a library's warning", UserWarning, stacklevel=1)
    line = _lines(files.error)[-1]
    assert line["logger"] == "py.warnings" and "a library's warning" in line["message"]


def test_outside_a_refusal_lines_are_as_given_with_their_traceback(files):
    try:
        raise KeyError("boom")
    except KeyError as exc:
        files.log.exception("failed on %s", "request 7", stack_info=True)
        files.log.warning("and warned %s", "once", exc_info=exc)
    failed, warned = _lines(files.error)[-2:]
    assert (failed["message"], warned["message"]) == ("failed on request 7", "and warned once")
    assert "KeyError: 'boom'" in failed["exc_info"] and "KeyError: 'boom'" in warned["exc_info"]
    assert "stack_info" in failed and "stack_info" not in warned


def test_a_refused_requests_warning_and_error_name_only_client_and_kind(files):
    with refused(("10.0.0.7", 4321), InvalidHeader(SECRET)):
        files.log.warning("Invalid request from ip=%s: %s", "10.0.0.7", SECRET)
        files.log.exception("Error handling request %s", f"/?token={SECRET}")
    with refused("", InvalidHeader(SECRET)):
        files.log.warning("bad %s", SECRET)
    files.log.warning("outside a refusal: %s", "as given")
    text = files.error.read_text()
    assert SECRET not in text
    messages = [(line["level"], line["message"]) for line in _lines(files.error)]
    assert messages[-4:] == [
        ("WARNING", "request from 10.0.0.7:4321 refused: InvalidHeader"),
        ("ERROR", "request from 10.0.0.7:4321 refused: InvalidHeader"),
        ("WARNING", "request from ? refused: InvalidHeader"),
        ("WARNING", "outside a refusal: as given"),
    ]


def test_an_access_line_has_exactly_its_fields_and_no_query_or_header(files):
    response = _response("200 OK", [("Content-Type", "application/json"), ("x-request-id", "rid-1")])
    files.log.access(response, None, ENVIRON, timedelta(microseconds=1234567))
    line = _lines(files.access)[-1]
    assert SECRET not in files.access.read_text()
    assert {key: line[key] for key in (*logs.ACCESS_FIELDS, "request_id", "message")} == {
        "method": "POST",
        "route": "/api/v1/predict",
        "path": "/api/v1/predict",
        "status": 200,
        "bytes": 12,
        "duration_ms": 1234.567,
        "remote_addr": "10.0.0.7",
        "request_id": "rid-1",
        "message": "POST /api/v1/predict 200",
    }


def test_an_access_line_without_an_id_header_takes_the_current_one_and_odd_status_is_null(files):
    token = logs.request_id.set("current-id")
    try:
        files.log.access(_response("weird"), None, {}, timedelta(0))
    finally:
        logs.request_id.reset(token)
    line = _lines(files.access)[-1]
    assert (line["request_id"], line["status"], line["method"], line["route"]) == (
        "current-id",
        None,
        None,
        None,
    )
    files.log.access(SimpleNamespace(status="404 Not Found", headers=[]), None, {}, timedelta(0))
    line = _lines(files.access)[-1]
    assert (line["status"], line["bytes"], line["request_id"]) == (404, None, None)


def test_no_access_line_when_the_access_log_is_off(files):
    files.log._access_log_enabled = False  # what setup computes from a config without an access log
    files.log.access(_response(), None, ENVIRON, timedelta(0))
    assert files.access.read_text() == ""


def test_the_direct_access_line_is_the_records_line_and_a_filter_keeps_the_record(files, monkeypatch):
    # Gunicorn's own handlers: the line is written without a record; with the same clock it is the
    # record's line to the byte.
    monkeypatch.setattr(hardened.time, "time", lambda: 1764561234.5678)
    response = _response("201 CREATED", [("X-Request-ID", "rid-2")])
    files.log.access(response, None, ENVIRON, timedelta(microseconds=1500))
    direct = files.access.read_text().splitlines()[-1]
    seen = []

    class Noting(logging.Filter):
        def filter(self, record):
            seen.append(record)
            record.created = 1764561234.5678
            return True

    noting = Noting()
    files.log.access_log.addFilter(noting)
    try:
        files.log.access(response, None, ENVIRON, timedelta(microseconds=1500))
    finally:
        files.log.access_log.removeFilter(noting)
    assert len(seen) == 1  # an operator's filter still gets its record
    assert files.access.read_text().splitlines()[-1] == direct
    assert json.loads(direct)["time"] == "2025-12-01T03:53:54.567Z"


def test_an_access_record_that_cannot_be_made_is_an_error_line_not_a_crash(files):
    class Failing(logging.Filter):
        def filter(self, record):
            raise ValueError("a filter of a logging config that fails")

    failing = Failing()
    files.log.access_log.addFilter(failing)
    try:
        files.log.access(_response(), None, ENVIRON, timedelta(0))
    finally:
        files.log.access_log.removeFilter(failing)
    errors = _lines(files.error)
    assert "ValueError: a filter of a logging config that fails" in errors[-1]["message"]
    assert SECRET not in files.error.read_text()


def test_reopening_writes_to_a_new_file_and_a_failed_reopen_keeps_the_old(files, monkeypatch):
    files.access.rename(files.access.with_suffix(".old"))
    rotated = files.log.access_log.handlers[0].stream
    files.log.reopen_files()
    assert rotated.closed
    files.log.access(_response(), None, ENVIRON, timedelta(0))
    assert len(_lines(files.access)) == 1
    handler = files.log.access_log.handlers[0]
    stream = handler.stream

    def unwritable():
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(handler, "_open", unwritable)
    files.log.reopen_files()
    assert handler.stream is stream and not stream.closed
    assert _lines(files.error)[-1]["message"] == (
        f"cannot reopen log {files.access}, still writing to the old file: [Errno 13] Permission denied"
    )


class Clock:
    """time.monotonic for the reporter, moved by hand."""

    now = 5000.0

    def monotonic(self):
        return self.now


def test_a_failing_log_is_reported_once_a_minute_without_its_record(monkeypatch):
    clock, err = Clock(), io.StringIO()
    monkeypatch.setattr(hardened, "time", clock)
    monkeypatch.setattr(sys, "stderr", err)
    handler = logging.StreamHandler(SimpleNamespace(name="<disk>"))
    report = _FailureReporter(handler)
    assert (report.name, report.reported_at) == ("<disk>", -math.inf)
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%s", (SECRET,), None)
    for clock.now in (5000.0, 5059.999, 5060.0):  # the second within the interval, the third at its end
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            report(record)
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    assert FAILURE_REPORT_INTERVAL == 60.0 and len(lines) == 2 and SECRET not in err.getvalue()
    assert {key: lines[0][key] for key in ("level", "logger", "message", "request_id")} == {
        "level": "ERROR",
        "logger": "gunicorn.error",
        "message": "writing to log <disk> failed, records lost: [Errno 28] No space left on device",
        "request_id": None,
    }
    assert list(lines[0]) == list(logs.FIELDS) and lines[0]["time"].endswith("Z")


def test_a_file_handler_is_named_by_its_file_and_a_failing_stderr_is_ignored(tmp_path, monkeypatch):
    class Broken:
        def write(self, text):
            raise OSError("stderr is gone")

    monkeypatch.setattr(sys, "stderr", Broken())
    handler = logging.FileHandler(tmp_path / "x.log", delay=True)
    report = _FailureReporter(handler)
    assert report.name == str(tmp_path / "x.log")
    report(logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None))
    assert report.reported_at > -math.inf
    assert _FailureReporter(logging.StreamHandler(SimpleNamespace())).name == "a stream"


def test_a_handler_without_a_stream_is_named_by_its_kind():
    handler = logging.handlers.SysLogHandler(address="/nonexistent")  # Gunicorn's --log-syslog
    try:
        assert _FailureReporter(handler).name == "SysLogHandler"
    finally:
        handler.close()
