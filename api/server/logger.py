"""Gunicorn's logger in JSON lines, hardened against failing log storage and secrets in requests.

When a log write fails (disk full), the standard library prints a traceback and
the record's arguments, which for the access log are every request header, the
bearer token included; and a log file that cannot be reopened on SIGUSR1 (log
rotation onto a read-only filesystem) stops the master. ``HardenedLogger``
reports a failing log in one line a minute and keeps the old file when a reopen
fails.

It also writes every line as JSON (api/jsonlog.py): the error log, the app's own
records (sent to the error log's handlers through the root logger) and one
access line per request, with the request's id, method, URL rule, path (never
the query string), status, bytes, duration and client address. Gunicorn's own
error answers (a malformed request, api/server/worker.py) get a request id too,
in the answer and in the lines about it.
"""

import json
import logging
import math
import os
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from gunicorn import glogging
from gunicorn.config import Config
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response

from api import jsonlog as logs
from api.addresses import peer
from api.constants import ENVIRON_REQUEST_ID, ENVIRON_ROUTE
from api.server.protocol import refusing

# How often a failing log handler may say so: enough to notice, too rare to flood.
FAILURE_REPORT_INTERVAL = 60.0


class HardenedLogger(glogging.Logger):
    """Gunicorn's logger in JSON lines; a failing log neither leaks request headers nor stops the server."""

    def setup(self, cfg: Config) -> None:
        """Make Gunicorn's handlers JSON with a quiet failure report; send the app's records there."""
        super().setup(cfg)
        formatter = logs.JSONFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                handler.handleError = _FailureReporter(handler)
        # The app's records (the app, the token store, flask-limiter, the history writer) go to the
        # error log at LOG_LEVEL. Set here, in the master, so the workers have it from their first
        # line: the app logs while it loads, before any post_worker_init hook runs.
        root = logging.getLogger()
        root.handlers = list(self.error_log.handlers)
        root.setLevel(self.error_log.level)
        # Python's warnings too, which would otherwise be bare lines on stderr.
        logging.captureWarnings(True)
        # No line names its thread or its multiprocessing process (api/jsonlog.py's FIELDS): not
        # looked up for every record (gevent's current thread is a greenlet lookup), the pid still is.
        logging.logThreads = False
        logging.logMultiprocessing = False

    def warning(self, msg: str, *args: object, **kwargs: Any) -> None:
        """Log a warning; about a refused request, its kind and client only (see protocol.refused)."""
        self.error_log.warning(*_redacted(msg, args), **kwargs)

    def exception(self, msg: str, *args: object, **kwargs: Any) -> None:
        """Log an error with its traceback; about a refused request, without the request's URI."""
        self.error_log.exception(*_redacted(msg, args), **kwargs)

    def access(self, resp: Response, req: Request, environ: dict[str, Any], request_time: timedelta) -> None:
        """Write one JSON access line; never the query string or a request header (they can carry secrets)."""
        if not self.access_log_enabled:
            return
        try:
            status: int | None = int(str(resp.status).split(None, 1)[0])
        except ValueError:
            status = None
        fields = {
            "request_id": environ.get(ENVIRON_REQUEST_ID) or _request_id_of(resp),
            "method": environ.get("REQUEST_METHOD"),
            # The app's URL rule (api/jsonlog.py), absent when the app did not answer.
            "route": environ.get(ENVIRON_ROUTE),
            "path": environ.get("PATH_INFO"),
            "status": status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        log = self.access_log
        args = (fields["method"], fields["path"], status)
        streams = self._plain_access_handlers()
        if streams:
            self._write_access(streams, "{} {} {}".format(*args), fields)
            return
        try:
            # Made and handled here rather than by log.info, which also looks up its caller's source
            # line on every call: a field no line of ours writes.
            record = log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s %s", args, None, extra=fields)
            log.handle(record)
        except (KeyError, TypeError, ValueError):
            # A failed write goes to the handler's handleError (_FailureReporter), not here. What is left:
            # a record that cannot be made (an extra named like a record attribute, KeyError) or a filter
            # from a logging config that fails on it.
            self.error(traceback.format_exc())

    def _plain_access_handlers(self) -> list[logging.StreamHandler[Any]]:
        """Return the access log's handlers if they are Gunicorn's own set-up, made JSON here; else [].

        Those write the line without a log record (below). A logging configuration of the operator's
        (another handler, a filter, a level) keeps the record, which it may rely on.
        """
        log = self.access_log
        handlers = log.handlers
        plain = (
            not log.filters
            and log.isEnabledFor(logging.INFO)
            and all(
                type(handler) in (logging.StreamHandler, logging.FileHandler)
                and isinstance(handler.formatter, logs.JSONFormatter)
                and not handler.filters
                and handler.level <= logging.INFO
                for handler in handlers
            )
        )
        return list(handlers) if plain else []

    def _write_access(
        self, handlers: list[logging.StreamHandler[Any]], message: str, fields: dict[str, Any]
    ) -> None:
        """Write one access line to each of ``handlers``' streams, as its emit would, without a record.

        A log record costs about what the whole line does (~14 us to make, make bench's profile).
        """
        created, pid = time.time(), os.getpid()
        for handler in handlers:
            formatter = handler.formatter
            assert isinstance(formatter, logs.JSONFormatter)  # _plain_access_handlers checked it
            line = formatter.access_line(self.access_log.name, message, fields, created, pid)
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()  # the handler's flush, without taking the lock held here again
            except (OSError, ValueError):
                # As the record path: a failed write goes to the handler's _FailureReporter; a closed
                # file (ValueError) too. The record is not needed there.
                handler.handleError(None)  # type: ignore[arg-type]
            finally:
                handler.release()

    def reopen_files(self) -> None:
        """Reopen log files (SIGUSR1, log rotation); a file that cannot be reopened keeps the old stream.

        Unlike Gunicorn's, this does not re-point stdout and stderr for
        ``capture_output``, which gunicorn.conf.py leaves off (errors go to stderr).
        """
        for log in glogging.loggers():
            for handler in log.handlers:
                if isinstance(handler, logging.FileHandler) and handler.stream:
                    self._reopen(handler)

    def _reopen(self, handler: logging.FileHandler) -> None:
        """Point ``handler`` at a freshly opened file, or keep its stream and say why."""
        try:
            stream = handler._open()
        except OSError as exc:
            self.error("cannot reopen log %s, still writing to the old file: %s", handler.baseFilename, exc)
            return
        handler.acquire()
        try:
            old, handler.stream = handler.stream, stream
        finally:
            handler.release()
        if old is not None:  # reopen_files reopens open streams only
            old.close()


def _redacted(msg: str, args: tuple[object, ...]) -> tuple[object, ...]:
    """Return ``(msg, *args)`` as given, or, while a refused request is handled, a line naming only
    the client and the kind of error."""
    refused = refusing.get()
    if refused is None:
        return (msg, *args)
    addr, exc = refused
    return ("request from %s refused: %s", peer(addr) if addr else "?", type(exc).__name__)


def _request_id_of(resp: Response) -> str | None:
    """Return the X-Request-ID the answer carries, else the id of the request being served, if any.

    For an answer the app did not give (Gunicorn's own, api/server/worker.py): the app's requests
    leave their id in the environ.
    """
    name = logs.HEADER.lower()
    key: str
    value: str
    for key, value in resp.headers:
        if key.lower() == name:
            return value
    return logs.request_id.get()


class _FailureReporter:
    """A log handler's ``handleError``: one line on stderr a minute, never the record.

    The standard library would print a traceback and the record's arguments for
    every failed write; for the access log those include the Authorization header.
    """

    def __init__(self, handler: logging.Handler) -> None:
        # A syslog or socket handler (--log-syslog, a logging config) has no stream.
        stream = getattr(handler, "stream", None)
        unnamed = "a stream" if stream is not None else type(handler).__name__
        self.name = getattr(handler, "baseFilename", None) or getattr(stream, "name", None) or unnamed
        self.reported_at = -math.inf

    def __call__(self, record: logging.LogRecord) -> None:
        """Report the exception being handled, at most once per FAILURE_REPORT_INTERVAL."""
        now = time.monotonic()
        if now - self.reported_at < FAILURE_REPORT_INTERVAL:
            return
        self.reported_at = now
        error = sys.exc_info()[1]
        # By hand, in the shape of api/jsonlog.py's lines: the formatter may be what failed.
        fields = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "ERROR",
            "logger": "gunicorn.error",
            "message": f"writing to log {self.name} failed, records lost: {error}",
            "request_id": None,
            "pid": os.getpid(),
        }
        line = json.dumps(fields) + "\n"
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except OSError:
            pass  # stderr is failing too: there is nowhere left to report to
