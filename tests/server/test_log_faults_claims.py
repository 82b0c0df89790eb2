"""README "Hostile clients and faults": a log that cannot be written is reported in one line a minute,
never with the record; a log that cannot be reopened (rotation) keeps writing to the old file.

In process, through Gunicorn's own logger set-up: the live tests (tests/server/test_faults.py) show the
server keeps serving, but cannot see the report's rate, the record's absence or where lines still go.
"""

import contextlib
import json
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from api.server import logger as hardened_logger
from api.server.logger import HardenedLogger

CANARY = "Bearer sa_canary-9d2e-do-not-log"


@pytest.fixture
def make_logger():
    """Return a factory of HardenedLogger for an access log path; undo its global set-up after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def factory(accesslog):
        """Set Gunicorn's logger up as the server does, writing the access log to ``accesslog``."""
        cfg = Config()
        cfg.set("accesslog", accesslog)
        cfg.set("errorlog", "-")
        return HardenedLogger(cfg)

    yield factory
    for name in ("gunicorn.error", "gunicorn.access"):
        log = logging.getLogger(name)
        for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
            log.removeHandler(handler)
            # Closing flushes, which fails again on /dev/full: the handler is being thrown away.
            with contextlib.suppress(OSError):
                handler.close()
    root.handlers, root.level = handlers, level
    logging.captureWarnings(False)


def _report_lines(err):
    """Return the failure reports among the stderr lines ``err``, as dicts."""
    return [json.loads(line) for line in err.splitlines() if "records lost" in line]


def test_a_log_that_cannot_be_written_is_reported_once_a_minute_without_the_record(
    make_logger, capsys, monkeypatch
):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(hardened_logger, "time", SimpleNamespace(monotonic=lambda: clock.now))
    log = make_logger("/dev/full")
    for _ in range(3):
        # A record whose arguments carry a secret, as the stdlib's access records carried headers.
        log.access_log.info("%s %s", "POST", CANARY)
    clock.now += 59
    log.access_log.info("%s", CANARY)
    within_a_minute = capsys.readouterr()
    clock.now += 2
    log.access_log.info("%s", CANARY)
    after_a_minute = capsys.readouterr()

    reports = _report_lines(within_a_minute.err)
    assert len(reports) == 1, within_a_minute.err
    assert reports[0]["level"] == "ERROR"
    assert reports[0]["message"].startswith("writing to log /dev/full failed, records lost: ")
    assert "No space left" in reports[0]["message"]
    assert len(_report_lines(after_a_minute.err)) == 1, after_a_minute.err
    for captured in (within_a_minute, after_a_minute):
        assert CANARY not in captured.err + captured.out
        assert "Traceback" not in captured.err


def test_a_log_that_cannot_be_reopened_keeps_writing_to_the_old_file(make_logger, tmp_path, capsys):
    path = tmp_path / "access.log"
    log = make_logger(str(path))
    log.access_log.info("before")
    rotated = tmp_path / "access.log.1"
    path.rename(rotated)  # as logrotate moves it away
    path.mkdir()  # and the new file cannot be opened there
    log.reopen_files()  # what SIGUSR1 runs
    log.access_log.info("after")
    assert [json.loads(line)["message"] for line in rotated.read_text().splitlines()] == ["before", "after"]
    assert f"cannot reopen log {path}, still writing to the old file" in capsys.readouterr().err
