"""When a request is sent again: a 429 after its Retry-After, and a connection error when that is safe.

Two cases, reasoned once for both clients (this one and api/jobs/client.py):

- A 429 is the API refusing a request before doing any of its work (rate limit, work budget,
  requests in flight, active jobs): nothing was scored, stored or queued, so any method, a predict's
  POST included, may be sent again once ``Retry-After`` has passed. A 429 without Retry-After, or
  asking for longer than the wait left, is not retried: its error is the answer.
- A connection error is retried by urllib3's ``Retry``: failing to connect (refused, connect
  timeout) means nothing was sent, so every method is retried; an error once the request was sent
  (reset, closed, read timeout) only for GET and HEAD. A POST cut there may have been processed (a
  predict scored and stored, a job queued) and a DELETE may have cancelled an active job, which a
  second DELETE would then delete: neither is repeated blind.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

RATE_LIMITED = 429
# 429s retried for one request, at most, and the seconds all their waits may add up to.
RETRIES = 5
MAX_WAIT_S = 300.0
# Connection errors retried for one request, waiting BACKOFF_S x 2^n (the first at once).
CONNECTION_RETRIES = 3
BACKOFF_S = 0.5
# Methods whose repetition changes nothing on the server (see the module's docstring).
IDEMPOTENT = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one request is retried after 429s; ``sleep`` waits (tests record it)."""

    retries: int = RETRIES
    max_wait_s: float = MAX_WAIT_S
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def delay(self, status: int, headers: Mapping[str, str], attempt: int, waited: float) -> float | None:
        """Return the seconds to wait before sending attempt ``attempt + 1`` again, or None: do not.

        ``waited``: the seconds this request has already waited for earlier 429s.
        """
        if status != RATE_LIMITED or attempt >= self.retries:
            return None
        seconds = retry_after_s(headers)
        if seconds is None or waited + seconds > self.max_wait_s:
            return None
        return seconds


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Return the seconds ``Retry-After`` (seconds or an HTTP date) asks for; None if absent or unreadable."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        # Its own cap is never reached: RetryPolicy refuses long waits rather than shortening them.
        return float(Retry(retry_after_max=2**31).parse_retry_after(value))
    except InvalidHeader:
        return None


def connection_retry(method: str, retries: int = CONNECTION_RETRIES) -> Retry:
    """Return urllib3's Retry for one request: connection errors only, as the module's docstring says.

    Statuses are the caller's (a 429 goes through RetryPolicy, anything else is an answer), and the
    server never redirects: an answer is returned as it came.
    """
    return Retry(
        total=None,
        connect=retries,
        read=retries if method.upper() in IDEMPOTENT else 0,
        other=0,
        status=0,
        redirect=False,
        allowed_methods=IDEMPOTENT,
        backoff_factor=BACKOFF_S,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
