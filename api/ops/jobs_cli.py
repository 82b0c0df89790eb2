"""``python -m api jobs submit|status|list|cancel|result``: the job API from the command line.

The requests are api/jobs/client.py's (HTTPS, streamed both ways, 429s retried). The token comes
from $API_TOKEN, never from an argument: ``ps`` shows every process's arguments. Exit status: 0
done, 1 refused or unreachable, 2 usage, 3 the job failed or was cancelled.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from api.client.auth import token_from
from api.client.tls import tls_context
from api.jobs.client import (
    DEFAULT_CAFILE,
    DEFAULT_URL,
    MEDIA_TYPES,
    STDOUT,
    TOKEN_ENV,
    WAIT_TIMEOUT_S,
    Api,
    ClientError,
    job_path,
)
from api.jobs.jobs import JOBS_PATH
from model.scoring.output import format_of

# Where the job database's URL comes from (api/settings.py jobs_database_url), for messages.
JOBS_DATABASE = "API_JOBS_DATABASE_URL, else API_HISTORY_URL"
EXIT_OK, EXIT_ERROR, EXIT_JOB_FAILED = 0, 1, 3


def add_parser(groups: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``jobs`` and its subcommands to ``groups`` (``migrate`` and ``worker`` run in api/ops/cli.py)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=DEFAULT_URL, help=f"API base URL (default: {DEFAULT_URL})")
    common.add_argument("--cafile", type=Path, default=DEFAULT_CAFILE, help="CA that signed the server")
    common.add_argument("--cert", type=Path, help="client certificate (when the server requires mutual TLS)")
    common.add_argument("--key", type=Path, help="the client certificate's key")
    jobs = groups.add_parser("jobs", help=f"score files through the job API (token: ${TOKEN_ENV})")
    actions = jobs.add_subparsers(dest="action", required=True)
    submit = actions.add_parser("submit", parents=[common], help="upload a CSV or NDJSON file as a job")
    submit.add_argument("file", type=Path)
    submit.add_argument("--wait", action="store_true", help="wait for the job, with a progress bar")
    submit.add_argument("-o", "--output", help="once done, download the result here ('-': stdout); waits")
    submit.add_argument("--model", help="the model to score with (default: the server's)")
    formats = tuple(MEDIA_TYPES)
    submit.add_argument("--format", choices=formats, help="the result's format (default: the input's)")
    submit.add_argument("--input-format", choices=formats, help="default: .ndjson/.jsonl ndjson, else csv")
    submit.add_argument("--no-detail", action="store_true", help="labels only, no score")
    submit.add_argument("--text-column", help="column (NDJSON: key) holding the tweets (default: text)")
    submit.add_argument("--id-column", help="column or key holding the ids (default: id; absent: row number)")
    submit.add_argument("--timeout", type=float, default=WAIT_TIMEOUT_S, help="seconds to wait at most")
    submit.add_argument("--no-progress", action="store_true", help="no progress bar")
    actions.add_parser("status", parents=[common], help="show a job").add_argument("id")
    actions.add_parser("list", parents=[common], help="list your jobs (every job, for an admin token)")
    cancel = actions.add_parser(
        "cancel", parents=[common], help="cancel an active job, delete a finished one"
    )
    cancel.add_argument("id")
    result = actions.add_parser("result", parents=[common], help="download a finished job's result")
    result.add_argument("id")
    result.add_argument("-o", "--output", required=True, help="where to write it ('-': stdout)")
    actions.add_parser("migrate", help=f"bring the job database ({JOBS_DATABASE}) to the newest schema")
    # Never parsed here: main() hands everything after "worker" to the worker (Celery's own options).
    actions.add_parser("worker", help="run a job worker process: python -m api jobs worker [--help]")


def run(
    args: argparse.Namespace,
    environ: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run one ``jobs`` subcommand (not ``worker``); return the exit status. ``sleep`` waits between tries."""
    try:
        api = _api(args, environ, sleep)
        return COMMANDS[args.action](api, args)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _api(args: argparse.Namespace, environ: Mapping[str, str], sleep: Callable[[float], None]) -> Api:
    """Return the API the arguments and $API_TOKEN name; raise ClientError if they cannot work.

    The token is never an argument, which any user could read in the process list.
    """
    token = token_from(None, environ)
    return Api(args.url, token, tls_context(args.cafile, args.cert, args.key), sleep=sleep)


def _submit(api: Api, args: argparse.Namespace) -> int:
    """Upload a file; with --wait or -o, follow the job to its end and download its result."""
    input_format = args.input_format or format_of(args.file.name)
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
    job = api.json("DELETE", job_path(args.id))
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
