"""Operator commands: ``python -m api token create|revoke|list``, ``python -m api history
migrate|export-feedback``, and
``python -m api jobs submit|status|list|cancel|result|migrate|worker``: the job API's client (api/jobs/
client.py), the job database's migrations, and a job worker (api/jobs/worker.py)."""

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from api import constants as c
from api.files import FILE_MODE
from api.history import store as history
from api.ops import jobs_cli
from api.ops.tokens import TokenExists, create_token, list_tokens, revoke_token
from api.settings import Settings, url_keeps_history


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m api", description="Operate the sentiment API.")
    groups = parser.add_subparsers(dest="group", required=True)
    token = groups.add_parser("token", help="manage bearer tokens")
    token.add_argument("--file", type=Path, default=None, help="tokens file (default: $API_TOKENS_FILE)")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token and print it")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="may read every caller's prediction history")
    create.add_argument("--force", action="store_true", help="replace the token of that name")
    actions.add_parser("revoke", help="revoke a token").add_argument("name")
    actions.add_parser("list", help="list token names")
    database = groups.add_parser("history", help="manage the prediction history database")
    history_actions = database.add_subparsers(dest="action", required=True)
    history_actions.add_parser(
        "migrate", help="bring the database of $API_HISTORY_URL to the newest schema (alembic upgrade head)"
    )
    history_actions.add_parser(
        "export-feedback",
        help="write id,text,label of the feedback whose tweet text was stored (API_HISTORY_TEXT=true), for"
        " `make train FEEDBACK=...`; the file is made 0600",
    ).add_argument("out", type=Path)
    jobs_cli.add_parser(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["jobs", "worker"]:
        # Imported only here: the worker brings Celery and the models, which no other command needs.
        from api.jobs import worker

        return worker.main(argv[2:])
    args = _parser().parse_args(argv)
    if args.group == "jobs":
        return (
            _migrate(Settings().jobs_database_url, jobs_cli.JOBS_DATABASE, "job")
            if args.action == "migrate"
            else jobs_cli.run(args)
        )
    if args.group == "history":
        if args.action == "export-feedback":
            return _export_feedback(Settings().HISTORY_URL, args.out)
        return _migrate_history(Settings().HISTORY_URL)
    path = args.file or Settings().TOKENS_FILE
    try:
        if args.action == "create":
            token = create_token(path, args.name, admin=args.admin, replace=args.force)
            print(f"created token {args.name!r} in {path}; it is shown once, keep it now:", file=sys.stderr)
            print(token)
        elif args.action == "revoke":
            if not revoke_token(path, args.name):
                print(f"no token named {args.name!r} in {path}", file=sys.stderr)
                return 1
            print(f"revoked {args.name!r}; running workers drop it within seconds")
        else:
            for name, created in list_tokens(path):
                print(f"{name}\t{created}")
    except TokenExists as exc:
        hint = f"python -m api token create {args.name} --force, or make token NAME={args.name} FORCE=1"
        print(f"error: {exc}; to replace it (the old token stops working): {hint}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _migrate_history(url: str) -> int:
    """Run the history migrations on ``url``, unless it keeps no history; return the exit status."""
    if not url_keeps_history(url):
        print("API_HISTORY_URL=none: no history database to migrate", file=sys.stderr)
        return 0
    return _migrate(url)


def _export_feedback(url: str, out: Path) -> int:
    """Write the feedback whose text was stored to a new 0600 file as id,text,label; return the status."""
    if not url_keeps_history(url):
        print("API_HISTORY_URL=none: no feedback to export", file=sys.stderr)
        return 1
    store = history.Store(url)
    try:
        # O_EXCL: never through an existing file or symlink; 0600 from the start (tweets are personal data).
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        print(f"error: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        with open(fd, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(("id", "text", "label"))
            rows = 0
            for row in store.feedback_texts():
                writer.writerow(row)
                rows += 1
    except (SQLAlchemyError, OSError) as exc:
        out.unlink(missing_ok=True)  # half a file would train on part of the feedback
        reason = f"{type(exc).__name__}: {getattr(exc, 'orig', exc)}"
        print(f"error: feedback export failed: {reason}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(f"{rows} feedback row(s) with their text written to {out}", file=sys.stderr)
    return 0


def _migrate(url: str, variable: str = "API_HISTORY_URL", what: str = "history") -> int:
    """Run the migrations of the one Alembic chain (history and jobs) on ``url``; return the exit status.

    ``variable`` names where the URL comes from, ``what`` the database, in the messages.
    """
    try:
        history.upgrade(url)
    except ImportError as exc:
        # postgresql:// alone names psycopg2, say: only the drivers the README lists are installed.
        print(
            f"error: {variable} needs the database driver {exc.name or exc}, which is not installed;"
            " use postgresql+psycopg:// or mysql+pymysql:// (see README)",
            file=sys.stderr,
        )
        return c.MIGRATE_UNUSABLE_URL
    except ArgumentError as exc:
        # An unknown dialect is named; any other message could quote the URL, password and all.
        reason = str(exc) if isinstance(exc, NoSuchModuleError) else type(exc).__name__
        print(f"error: {variable} is not a usable database URL: {reason}", file=sys.stderr)
        return c.MIGRATE_UNUSABLE_URL
    except (SQLAlchemyError, OSError) as exc:
        # The exception's class and the driver's message only: never a URL with its password.
        print(
            f"error: {what} migration failed: {type(exc).__name__}: {getattr(exc, 'orig', exc)}",
            file=sys.stderr,
        )
        return 1
    print(f"{what} database schema is current", file=sys.stderr)
    return 0
