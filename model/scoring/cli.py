"""The ``python -m model score IN.csv -o OUT.csv`` command (CSV or NDJSON): its options and exit statuses."""

import argparse
import os
import sys
from collections.abc import Callable

from model.scoring.output import FORMATS
from model.scoring.stream import DEFAULT_CHUNK_ROWS, score_file
from model.serving import artifacts

# What a Unix shell reports for a process stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``score`` command to the ``python -m model`` subcommands."""
    score = commands.add_parser(
        "score", help="label every row of a CSV or NDJSON file, streamed, on one or more cores"
    )
    score.add_argument(
        "input",
        help="CSV with a header row and a text column, or NDJSON: one object per line ('-' reads stdin)",
    )
    score.add_argument(
        "-o", "--output", required=True, help="file to write: id,label,score in input order ('-': stdout)"
    )
    score.add_argument(
        "--input-format",
        choices=FORMATS,
        default=None,
        help="input format (default: ndjson for a .ndjson or .jsonl name, else csv)",
    )
    score.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: ndjson for a .ndjson or .jsonl name, csv for .csv, else the input's)",
    )
    score.add_argument(
        "--no-detail", dest="detail", action="store_false", help="write id,label only, without the score"
    )
    score.add_argument(
        "--text-column", default="text", help="column (NDJSON: key) holding the tweets (default: text)"
    )
    score.add_argument(
        "--id-column",
        default="id",
        help="column or key holding the ids (default: id; absent: the row number)",
    )
    score.add_argument("--model", default=None, help="model name (default: the manifest's default)")
    score.add_argument("--artifacts", default=str(artifacts.DEFAULT_DIR), help="artifact folder")
    workers = score.add_mutually_exclusive_group()
    workers.add_argument(
        "--jobs", type=_count(0), default=1, help="worker processes (default 1; 0: one per available core)"
    )
    workers.add_argument(
        "--dask",
        metavar="SCHEDULER_ADDRESS",
        default=None,
        help="score on the workers of this Dask scheduler (tcp://host:8786), which must be private and"
        " trusted, and reach the artifact folder at the same path",
    )
    score.add_argument(
        "--chunk-size", type=_count(1), default=DEFAULT_CHUNK_ROWS, help="rows per chunk (default 1000)"
    )
    score.add_argument("--encoding", default="utf-8", help="input encoding (default utf-8; a BOM is skipped)")
    shown = score.add_mutually_exclusive_group()
    shown.add_argument("--progress", action="store_true", help="show progress even without a terminal")
    shown.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def _count(minimum: int) -> Callable[[str], int]:
    """Return an argparse type accepting integers from ``minimum`` up."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise ValueError(text)
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in its error message
    return parse


def run(args: argparse.Namespace) -> int:
    """Run ``python -m model score`` with parsed ``args``; return the exit status."""
    try:
        score_file(
            args.input,
            args.output,
            directory=args.artifacts,
            name=args.model,
            text_column=args.text_column,
            id_column=args.id_column,
            jobs=args.jobs,
            chunk_rows=args.chunk_size,
            encoding=args.encoding,
            input_format=args.input_format,
            output_format=args.format,
            detail=args.detail,
            dask=args.dask,
            progress=False if args.quiet else (True if args.progress else None),
            summary=not args.quiet,
        )
    except KeyboardInterrupt:
        print("interrupted before the end of the input", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, and keep Python's own
        # flush at exit from failing on the same pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
