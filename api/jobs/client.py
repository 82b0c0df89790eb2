"""``python -m api jobs submit|status|list|cancel|result``: the job API's command-line client.

HTTPS with the standard library only (requests is not a dependency), verifying the server against a CA
file. The token comes from $API_TOKEN, never from an argument: ``ps`` shows every process's arguments.
An upload is streamed from the file with its Content-Length, a result streamed to ``OUT.partial`` and
renamed once complete, so neither is ever held in memory. A 429 with Retry-After is retried a bounded
number of times; exit status 0 done, 1 refused or unreachable, 2 usage, 3 the job failed or was cancelled.
"""

import argparse
import contextlib
import http.client
import json
import os
import shutil
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

TOKEN_ENV = "API_TOKEN"  # noqa: S105 - the variable's name, not a token
DEFAULT_URL = "https://127.0.0.1:5000"
DEFAULT_CAFILE = Path("certs") / "ca.crt"
JOBS_PATH = "/api/v1/jobs"
# The input's media type by its format, as the API reads it; NDJSON by the file's extension.
MEDIA_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
STDOUT = "-"
BLOCK_BYTES = 1 << 16
TIMEOUT_S = 60.0
# A 429 that says when to come back is retried, this many times, waiting at most this long each time.
RETRIES = 5
MAX_RETRY_AFTER_S = 300
POLL_S = 1.0
WAIT_TIMEOUT_S = 24 * 3600.0
# Read of an error answer: errors are small JSON; a larger body is not one of ours.
ERROR_BODY_BYTES = 1 << 16
FINAL_STATES = ("succeeded", "failed", "cancelled")
EXIT_OK, EXIT_ERROR, EXIT_JOB_FAILED = 0, 1, 3


class ClientError(Exception):
    """A request could not be made or was refused; the message says why, for the person at the terminal."""


@dataclass
class Api:
    """One job API: its base URL, the TLS context that verifies it, and the bearer token."""

    url: str
    token: str
    context: ssl.SSLContext
    timeout: float = TIMEOUT_S
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ClientError(
                f"--url must be an https:// URL (the API is served over HTTPS only): {self.url}"
            )
        self._host, self._port, self._base = parts.hostname, parts.port or 443, parts.path.rstrip("/")

    @contextmanager
    def open(
        self, method: str, path: str, body: BinaryIO | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[http.client.HTTPResponse]:
        """Yield the successful answer to one request, retrying 429s with Retry-After; raise ClientError."""
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        for attempt in range(RETRIES + 1):
            conn = http.client.HTTPSConnection(
                self._host, self._port, context=self.context, timeout=self.timeout, blocksize=BLOCK_BYTES
            )
            try:
                response = self._send(conn, method, self._base + path, body, sent)
                delay = _retry_after(response)
                if delay is None or attempt == RETRIES:
                    _raise_for(response)
                    yield response
                    return
                print(f"rate limited; retrying in {delay} s", file=sys.stderr)
            finally:
                conn.close()
            self.sleep(delay)

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
        try:
            # A server refusing an upload (too large, say) answers before reading it all, then
            # closes: its answer may still be there to read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, target, body=body, headers=dict(headers))
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
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
        return self.json("GET", _job_path(job_id))

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
        with self.open("GET", _job_path(job_id) + "/result") as response:
            if out == STDOUT:
                shutil.copyfileobj(response, sys.stdout.buffer, BLOCK_BYTES)
                sys.stdout.buffer.flush()
                return
            target = Path(out)
            partial = target.with_name(target.name + ".partial")
            try:
                with open(partial, "wb") as handle:
                    shutil.copyfileobj(response, handle, BLOCK_BYTES)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        os.replace(partial, target)


def _job_path(job_id: str) -> str:
    """Return the path of one job, its id quoted (it is the user's argument)."""
    return f"{JOBS_PATH}/{urllib.parse.quote(job_id, safe='')}"


def _retry_after(response: http.client.HTTPResponse) -> int | None:
    """Return the seconds a 429 asks to wait, if it asks and it is not too long; else None."""
    value = response.getheader("Retry-After", "")
    if response.status != 429 or not value.isdigit() or int(value) > MAX_RETRY_AFTER_S:
        return None
    response.read(ERROR_BODY_BYTES)
    return int(value)


def _raise_for(response: http.client.HTTPResponse) -> None:
    """Raise ClientError with the API's error code and message if the answer is not a success."""
    if response.status < 300:
        return
    body = response.read(ERROR_BODY_BYTES)
    try:
        error = json.loads(body)["error"]
        reason = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        reason = response.reason
    raise ClientError(f"HTTP {response.status} {reason}")


def run(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    """Run one ``jobs`` subcommand (not ``worker``); return the exit status."""
    try:
        api = _api(args, environ)
        return COMMANDS[args.action](api, args)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _api(args: argparse.Namespace, environ: Mapping[str, str]) -> Api:
    """Return the API the arguments and $API_TOKEN name; raise ClientError if they cannot work."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ClientError(
            f"set {TOKEN_ENV} to your bearer token (make token NAME=you prints one); it is never an"
            " argument, which any user could read in the process list"
        )
    try:
        context = ssl.create_default_context(cafile=str(args.cafile))
        if args.cert is not None:
            context.load_cert_chain(str(args.cert), None if args.key is None else str(args.key))
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"cannot load the TLS files ({args.cafile}, --cert, --key): {exc}") from exc
    return Api(args.url, token, context)


def _submit(api: Api, args: argparse.Namespace) -> int:
    """Upload a file; with --wait or -o, follow the job to its end and download its result."""
    input_format = args.input_format or ("ndjson" if args.file.suffix.lower() in NDJSON_SUFFIXES else "csv")
    options = {"model": args.model, "format": args.format, "text_column": args.text_column}
    options |= {"id_column": args.id_column, "detail": "false" if args.no_detail else None}
    job = api.submit(args.file, {k: v for k, v in options.items() if v is not None}, input_format)
    print(f"job {job['id']} {job['state']}: {job['rows']['total']:,} rows", file=sys.stderr)
    if not (args.wait or args.output):
        _print(job)
        return EXIT_OK
    return _finish(api, api.wait(job["id"], args.timeout, False if args.no_progress else None), args.output)


def _finish(api: Api, job: dict[str, Any], output: str | None) -> int:
    """Report a finished job; download its result to ``output`` if it succeeded and one is asked for."""
    if job["state"] != "succeeded":
        print(f"job {job['id']} {job['state']}", file=sys.stderr)
        for error in job.get("errors") or []:
            print(f"  {error}", file=sys.stderr)
        return EXIT_JOB_FAILED
    if output:
        api.download(job["id"], output)
        if output != STDOUT:
            print(f"job {job['id']} succeeded: {output}", file=sys.stderr)
        return EXIT_OK
    _print(job)
    return EXIT_OK


def _print(value: object) -> None:
    """Print JSON for programs to read."""
    print(json.dumps(value, indent=2))


def _status(api: Api, args: argparse.Namespace) -> int:
    """Print one job's JSON."""
    _print(api.job(args.id))
    return EXIT_OK


def _list(api: Api, args: argparse.Namespace) -> int:
    """Print the caller's jobs, one a line: id, state, rows done/total, created."""
    for job in api.json("GET", JOBS_PATH)["jobs"]:
        rows = job["rows"]
        print(f"{job['id']}\t{job['state']}\t{rows['done']}/{rows['total']}\t{job['created']}")
    return EXIT_OK


def _cancel(api: Api, args: argparse.Namespace) -> int:
    """Cancel an active job (its JSON is printed) or delete a finished one."""
    job = api.json("DELETE", _job_path(args.id))
    if not job:
        print(f"job {args.id} deleted", file=sys.stderr)
    else:
        _print(job)
    return EXIT_OK


def _result(api: Api, args: argparse.Namespace) -> int:
    """Download a finished job's result."""
    api.download(args.id, args.output)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Api, argparse.Namespace], int]] = {
    "submit": _submit,
    "status": _status,
    "list": _list,
    "cancel": _cancel,
    "result": _result,
}
