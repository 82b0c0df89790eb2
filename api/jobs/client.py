"""A client of the job API, for ``python -m api jobs ...`` (api/ops/jobs_cli.py) and for programs.

HTTPS with the standard library's http.client, verifying the server against a CA file. An upload is
streamed from the file with its Content-Length, a result streamed to ``OUT.partial`` and renamed once
complete, so neither is ever held in memory. What it shares with the Python client (api/client/) is
stated there once: the token and its variable, the TLS context, when a 429 is retried (a bounded number
of times, waiting its Retry-After) and how an error answer reads.
"""

import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

from api.client.auth import TOKEN_ENV, Token
from api.client.errors import ERROR_BODY_BYTES, ClientError, error_of
from api.client.retry import RETRIES, RetryPolicy
from api.client.tls import https_base
from api.jobs.jobs import FINAL_STATES, JOBS_PATH

# Re-exported: api/ops/jobs_cli.py and the tests name them from here.
__all__ = ["RETRIES", "TOKEN_ENV", "Api", "ClientError", "job_path"]

DEFAULT_URL = "https://127.0.0.1:5000"
DEFAULT_CAFILE = Path("certs") / "ca.crt"
# The input's media type by its format, as the API reads it.
MEDIA_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
STDOUT = "-"
BLOCK_BYTES = 1 << 16
TIMEOUT_S = 60.0
POLL_S = 1.0
WAIT_TIMEOUT_S = 24 * 3600.0


@dataclass
class Api:
    """One job API: its base URL, the TLS context that verifies it, and the bearer token."""

    url: str
    token: Token
    context: ssl.SSLContext
    timeout: float = TIMEOUT_S
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)  # between retries and polls

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(https_base(self.url))
        self._host, self._port, self._base = parts.hostname or "", parts.port or 443, parts.path
        self._policy = RetryPolicy(sleep=self.sleep)

    @contextmanager
    def open(
        self, method: str, path: str, body: BinaryIO | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[http.client.HTTPResponse]:
        """Yield the successful answer to one request, retrying 429s as api/client/retry.py says;
        raise ClientError."""
        sent = {"Authorization": self.token.header(), **(headers or {})}
        waited, attempt = 0.0, 0
        while True:
            conn = http.client.HTTPSConnection(
                self._host, self._port, context=self.context, timeout=self.timeout, blocksize=BLOCK_BYTES
            )
            try:
                response = self._send(conn, method, self._base + path, body, sent)
                delay = self._policy.delay(response.status, dict(response.getheaders()), attempt, waited)
                if delay is None:
                    _raise_for(response)
                    yield response
                    return
                response.read(ERROR_BODY_BYTES)
                print(f"rate limited; retrying in {delay:g} s", file=sys.stderr)
            finally:
                conn.close()
            self._policy.sleep(delay)
            waited, attempt = waited + delay, attempt + 1

    def _send(
        self,
        conn: http.client.HTTPSConnection,
        method: str,
        target: str,
        body: BinaryIO | None,
        headers: Mapping[str, str],
    ) -> http.client.HTTPResponse:
        """Send one request (a file body from its start) and return its answer."""
        if body is not None:
            body.seek(0)
        cut: OSError | None = None
        try:
            conn.request(method, target, body=body, headers=dict(headers))
        except (ssl.SSLEOFError, BrokenPipeError, ConnectionResetError) as exc:
            # A server refusing an upload (too large, say) answers before reading it all, then
            # closes: its answer may still be there to read.
            cut = exc
        except (OSError, http.client.HTTPException) as exc:
            raise ClientError(f"cannot reach {self.url}: {exc}") from exc
        try:
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            if cut is not None:
                raise ClientError(
                    f"the server closed the connection before the whole file was sent ({cut!r}): it refused"
                    " it, most likely as over its upload limit (API_JOBS_MAX_UPLOAD_BYTES)"
                ) from exc
            raise ClientError(f"cannot reach {self.url}: {exc}") from exc

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Return the JSON object answering one request; {} if it has no body (204)."""
        with self.open(method, path, **kwargs) as response:
            data = response.read()
        answer: dict[str, Any] = json.loads(data) if data else {}
        return answer

    def submit(self, path: Path, query: Mapping[str, str], input_format: str) -> dict[str, Any]:
        """Upload the file at ``path`` as a new job, streamed; return the job's JSON."""
        target = JOBS_PATH + ("?" + urllib.parse.urlencode(query) if query else "")
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise ClientError(f"cannot read {path}: {exc.strerror}") from exc
        with handle:
            size = os.fstat(handle.fileno()).st_size
            headers = {"Content-Type": MEDIA_TYPES[input_format], "Content-Length": str(size)}
            return self.json("POST", target, body=handle, headers=headers)

    def job(self, job_id: str) -> dict[str, Any]:
        """Return one job's JSON."""
        return self.json("GET", job_path(job_id))

    def wait(self, job_id: str, timeout: float, progress: bool | None) -> dict[str, Any]:
        """Poll the job until it is finished, with a bar of rows done; return its last JSON."""
        deadline = time.monotonic() + timeout
        disable = None if progress is None else not progress
        with tqdm(unit=" rows", unit_scale=True, file=sys.stderr, disable=disable, mininterval=0.5) as bar:
            while True:
                job = self.job(job_id)
                rows = job["rows"]
                bar.total = rows["total"]
                bar.update(max(0, rows["done"] - bar.n))
                if job["state"] in FINAL_STATES:
                    return job
                if time.monotonic() > deadline:
                    raise ClientError(
                        f"job {job_id} not finished after {timeout:.0f} s; it goes on:"
                        f" python -m api jobs status {job_id}"
                    )
                self.sleep(POLL_S)

    def download(self, job_id: str, out: str) -> None:
        """Stream the job's result to ``out`` ('-': stdout), which appears only once complete."""
        with self.open("GET", job_path(job_id) + "/result") as response:
            if out == STDOUT:
                _copy(response, sys.stdout.buffer)
                return
            partial = Path(out).with_name(Path(out).name + ".partial")
            try:
                with open(partial, "wb") as handle:
                    _copy(response, handle)
            except BaseException as exc:
                partial.unlink(missing_ok=True)
                if isinstance(exc, OSError | http.client.HTTPException):
                    raise ClientError(f"download of job {job_id} failed ({exc!r}); nothing written") from exc
                raise
        os.replace(partial, out)


def _copy(response: http.client.HTTPResponse, handle: BinaryIO) -> None:
    """Copy an answer's body to ``handle`` in blocks; raise IncompleteRead if it ends before its length.

    http.client reads a body cut short as a shorter one, without an error, unless it is chunked.
    """
    expected, copied = response.getheader("Content-Length", ""), 0
    while block := response.read(BLOCK_BYTES):
        handle.write(block)
        copied += len(block)
    if expected.isdigit() and copied != int(expected):
        raise http.client.IncompleteRead(b"", int(expected) - copied)
    handle.flush()


def job_path(job_id: str) -> str:
    """Return the path of one job, its id quoted (it is the user's argument)."""
    return f"{JOBS_PATH}/{urllib.parse.quote(job_id, safe='')}"


def _raise_for(response: http.client.HTTPResponse) -> None:
    """Raise ClientError with the API's error code and message if the answer is not a success."""
    if response.status >= 300:
        raise error_of(response.status, response.reason, response.read(ERROR_BODY_BYTES))
