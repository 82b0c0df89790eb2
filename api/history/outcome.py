"""How history writes are doing, kept once for every writer of it: the worker's and the writer process's.

A write (an INSERT, or a hand-over to the writer process) never raises to its caller: it
counts as a failure, tells the metrics, and logs one warning a minute at most; the next
success says so once. /readyz shows ``ok`` and ``failures``.
"""

import logging
import re
import time
from collections.abc import Callable
from typing import TypedDict

# A failing database is logged at most this often (seconds), not once per request.
LOG_INTERVAL = 60.0
# Quoted text in a driver's message may be a value it was sent: MariaDB's "Duplicate entry '...'" or
# "Incorrect string value: '...'". From the first quote to the last, whatever is inside.
QUOTED = (re.compile(r"'.*'"), re.compile(r'".*"'))


def describe(exc: BaseException) -> str:
    """Return ``exc``'s class and the first line of its driver's message, quoted text masked.

    Never the bound values: the engine hides them from SQLAlchemy's own message
    (hide_parameters), PostgreSQL's DETAIL line, which quotes a failing row whole, is
    after the first line, and a value MariaDB quotes in its message is masked.
    """
    detail = getattr(exc, "orig", None) or exc
    args = detail.args
    # PyMySQL's errors are (code, message): the message unwrapped, or its quotes would mask it whole.
    pymysql = len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str)
    lines = (f"({args[0]}) {args[1]}" if pymysql else str(detail)).strip().splitlines()
    first = lines[0] if lines else ""
    for quoted in QUOTED:
        first = quoted.sub("...", first)
    return f"{type(exc).__name__}: {first}"


def nothing() -> None:
    """Do nothing: the hook of a counter nobody has attached yet."""


class WriteState(TypedDict):
    """Whether the last write succeeded, and how many failed so far."""

    ok: bool
    failures: int


class Throttle:
    """A warning logged at most once per LOG_INTERVAL, so a dead database does not flood the log."""

    def __init__(self, log: logging.Logger, interval: float = LOG_INTERVAL) -> None:
        self.log = log
        self.interval = interval
        self._logged_at = float("-inf")

    def warn(self, msg: str, *args: object) -> None:
        """Log ``msg`` as a warning unless one was logged within the interval."""
        now = time.monotonic()
        if now - self._logged_at >= self.interval:
            self._logged_at = now
            self.log.warning(msg, *args)


class Outcome:
    """The ok flag and the failure count of one writer, with its metric hook and throttled warnings."""

    def __init__(self, log: logging.Logger, resumed: str) -> None:
        self.ok = True
        self.failures = 0
        # Called after each failed write; api/web/metrics.py (or the writer process) points it at a counter.
        self.on_failure: Callable[[], None] = nothing
        self._log = log
        self._resumed = resumed
        self._warnings = Throttle(log)

    def failed(self, exc: BaseException, lost: str, *args: object) -> bool:
        """Count a failed write that lost ``lost % args``; log it, throttled; return False."""
        self.failures += 1
        self.on_failure()
        self.ok = False
        # The exception's class and the first line of the driver's text, never a value it was sent.
        self._warnings.warn(f"{lost} (%d failure(s) so far): %s", *args, self.failures, describe(exc))
        return False

    def succeeded(self) -> bool:
        """Note a successful write, saying so if the previous one failed; return True."""
        if not self.ok:
            self._log.info(self._resumed)
        self.ok = True
        return True

    def state(self) -> WriteState:
        """Return ``ok`` and ``failures``, as /readyz shows them."""
        return {"ok": self.ok, "failures": self.failures}
