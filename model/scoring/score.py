"""Bulk scoring: ``python -m model score IN.csv -o OUT.csv``.

The input is read, scored and written one chunk of rows at a time, so memory
stays flat whatever the file's size; with ``--jobs`` the chunks are scored by
worker processes that each load and verify the artifact themselves: only
chunks of tweet text and their log-odds cross between processes, never a model.
"""

import codecs
import csv
import io
import math
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from model.errors import ArtifactError, ModelError, ScoreError
from model.serving import artifacts
from model.serving.labels import label_of, sigmoid

OUTPUT_HEADER = ("id", "label", "score")
DEFAULT_CHUNK_ROWS = 1000
# Chunks in flight per worker: one being scored and one queued, so a worker never waits for the reader.
IN_FLIGHT_PER_JOB = 2
# Far above any tweet, but bounded: an unclosed quote would otherwise read the rest of the file as one field.
MAX_FIELD_CHARS = 1 << 24
# Bytes that are not valid in the input's encoding, kept as lone surrogates (errors="surrogateescape")
# so the row they are in can be named.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def add_parser(commands):
    """Add the ``score`` command to the ``python -m model`` subcommands."""
    score = commands.add_parser("score", help="label every row of a CSV file, streamed, on one or more cores")
    score.add_argument("input", help="CSV with a header row and a text column ('-' reads stdin)")
    score.add_argument(
        "-o", "--output", required=True, help="CSV to write: id,label,score in input order ('-': stdout)"
    )
    score.add_argument("--text-column", default="text", help="column holding the tweets (default: text)")
    score.add_argument(
        "--id-column", default="id", help="column holding the ids (default: id; absent: the row number)"
    )
    score.add_argument("--model", default=None, help="model name (default: the manifest's default)")
    score.add_argument("--artifacts", default=str(artifacts.DEFAULT_DIR), help="artifact folder")
    score.add_argument(
        "--jobs", type=_count(0), default=1, help="worker processes (default 1; 0: one per available core)"
    )
    score.add_argument(
        "--chunk-size", type=_count(1), default=DEFAULT_CHUNK_ROWS, help="rows per chunk (default 1000)"
    )
    score.add_argument("--encoding", default="utf-8", help="input encoding (default utf-8; a BOM is skipped)")
    shown = score.add_mutually_exclusive_group()
    shown.add_argument("--progress", action="store_true", help="show progress even without a terminal")
    shown.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def _count(minimum):
    """Return an argparse type accepting integers from ``minimum`` up."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise ValueError(text)
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in its error message
    return parse


def run(args):
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
            progress=False if args.quiet else (True if args.progress else None),
            summary=not args.quiet,
        )
    except KeyboardInterrupt:
        print("interrupted before the end of the input", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, and keep Python's own
        # flush at exit from failing on the same pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def score_file(
    source,
    destination,
    *,
    directory=artifacts.DEFAULT_DIR,
    name=None,
    text_column="text",
    id_column="id",
    jobs=1,
    chunk_rows=DEFAULT_CHUNK_ROWS,
    encoding="utf-8",
    progress=None,
    summary=False,
):
    """Score every row of the CSV ``source`` into ``destination``; return the number of rows.

    ``progress``: True shows the bar, False hides it, None shows it only on a terminal.
    """
    jobs = jobs or available_cores()
    name, entry = resolve_model(directory, name, verify=jobs > 1)
    with (
        _open_input(source, encoding) as (handle, raw, size),
        Scorer(directory, name, jobs) as scorer,
        _open_output(destination, source) as out,
    ):
        reader = ChunkReader(handle, _display(source), text_column, id_column, chunk_rows, encoding)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(OUTPUT_HEADER)
        started = time.perf_counter()
        # Made after the pool: the bar starts a monitor thread, and forking is safest with none.
        with tqdm(
            unit=" rows", unit_scale=True, file=sys.stderr, disable=_disabled(progress), mininterval=0.5
        ) as bar:
            for ids, scores in scorer.map(reader):
                writer.writerows(zip(ids, map(label_of, scores), map(sigmoid, scores), strict=True))
                if size:
                    bar.total = max(bar.n + len(ids), _estimate_rows(reader.rows, raw.tell(), size))
                bar.update(len(ids))
            bar.total = bar.n
        elapsed = time.perf_counter() - started
    if summary:
        rate = reader.rows / elapsed if elapsed > 0 else math.inf
        print(
            f"scored {reader.rows:,} rows in {elapsed:.2f} s ({rate:,.0f} rows per second, {jobs} job(s))"
            f" with {name} {entry['version']}: {_display(destination, 'stdout')}",
            file=sys.stderr,
        )
    return reader.rows


def available_cores():
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_model(directory, name=None, verify=False):
    """Return ``(name, manifest entry)`` of the model to use, or raise ArtifactError listing the valid ones.

    With ``verify``, also check the artifact's SHA-256 now, before any worker starts.
    """
    manifest = artifacts.read_manifest(directory)
    name = name or artifacts.default_name(manifest)
    models = manifest.get("models", {})
    if name not in models:
        raise ArtifactError(f"unknown model {name!r}; {Path(directory)} has: {', '.join(sorted(models))}")
    if verify:
        artifacts.read_verified(directory, models[name]["file"], manifest)
    return name, models[name]


def _estimate_rows(rows, position, size):
    """Return the total rows a file of ``size`` bytes likely has, from ``rows`` in its first ``position``."""
    return round(rows * size / position) if position else rows


def _disabled(progress):
    """Return tqdm's ``disable`` for a progress choice (None: tqdm hides it when stderr is no terminal)."""
    return None if progress is None else not progress


def _display(path, dash="stdin"):
    """Return how messages name a path ('-' is stdin or stdout)."""
    return f"<{dash}>" if path == "-" else str(path)


@contextmanager
def _open_input(path, encoding):
    """Yield ``(text handle, binary handle, size in bytes or None)`` of the CSV at ``path``."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ScoreError(f"unknown encoding {encoding!r}") from exc
    if path == "-":
        raw, size = sys.stdin.buffer, None
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below, after the text wrapper
        except OSError as exc:
            raise ScoreError(f"cannot read {path}: {exc.strerror}") from exc
        size = os.fstat(raw.fileno()).st_size or None
    # utf-8-sig reads plain UTF-8 too, and drops the BOM spreadsheets write, which would
    # otherwise become part of the first column's name.
    handle = io.TextIOWrapper(
        raw, encoding="utf-8-sig" if codec == "utf-8" else codec, errors="surrogateescape", newline=""
    )
    try:
        yield handle, raw, size
    finally:
        if path == "-":
            handle.detach()
        else:
            handle.close()


@contextmanager
def _open_output(path, source):
    """Yield a text handle writing to ``path``, which appears only once complete ('-': stdout)."""
    if path == "-":
        sys.stdout.flush()
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield out
            out.flush()
        finally:
            out.detach()
        return
    target = Path(path)
    if source != "-" and target.exists() and os.path.samefile(source, target):
        raise ScoreError(f"refusing to overwrite the input file {source} with the scores")
    # A failed or interrupted run must not leave a file that looks complete.
    partial = target.with_name(target.name + ".partial")
    try:
        out = open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ScoreError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        with out:
            yield out
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


class ChunkReader:
    """Iterate over a CSV as ``(ids, texts)`` chunks of ``chunk_rows`` rows; ``rows`` counts rows read."""

    def __init__(self, handle, name, text_column, id_column, chunk_rows, encoding="utf-8"):
        self.handle = handle
        self.name = name
        self.text_column = text_column
        self.id_column = id_column
        self.chunk_rows = chunk_rows
        self.encoding = encoding
        self.rows = 0

    def __iter__(self):
        """Yield the chunks in file order; raise ScoreError naming the row of any fault."""
        csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
        reader = csv.reader(self.handle)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ScoreError(f"{self.name}: header row: {exc}") from exc
        text_at, id_at = self._columns(header)
        needed = max(text_at, -1 if id_at is None else id_at) + 1
        ids, texts = [], []
        rows = self.rows
        try:
            for row in reader:
                if not row:  # a blank line, as csv.DictReader skips them
                    continue
                rows += 1
                if len(row) < needed:
                    raise ScoreError(
                        f"{self.name}: row {rows} (line {reader.line_num}) has {len(row)} field(s);"
                        f" the header has {len(header)}"
                    )
                texts.append(row[text_at])
                ids.append(str(rows) if id_at is None else row[id_at])
                if len(texts) == self.chunk_rows:
                    self._check_decoded(ids, texts, rows - len(texts) + 1, id_at is not None)
                    self.rows = rows
                    yield ids, texts
                    ids, texts = [], []
        except csv.Error as exc:
            # A field over the limit is most likely an unclosed quote swallowing the rows after it.
            hint = "; an unclosed quote?" if "field limit" in str(exc) else ""
            raise ScoreError(f"{self.name}: row {rows + 1} (line {reader.line_num}): {exc}{hint}") from exc
        if texts:
            self._check_decoded(ids, texts, rows - len(texts) + 1, id_at is not None)
            self.rows = rows
            yield ids, texts

    def _columns(self, header):
        """Return the positions of the text and id columns (id None when absent) or raise ScoreError."""
        if not header:
            raise ScoreError(
                f"{self.name}: empty file; expected a header row with a {self.text_column!r} column"
            )
        if self.text_column not in header:
            shown = ", ".join(repr(column[:40]) for column in header[:20])
            more = f" and {len(header) - 20} more" if len(header) > 20 else ""
            raise ScoreError(
                f"{self.name}: no {self.text_column!r} column in the header row (columns: {shown}{more});"
                " choose one with --text-column"
            )
        id_at = header.index(self.id_column) if self.id_column in header else None
        return header.index(self.text_column), id_at

    def _check_decoded(self, ids, texts, first_row, check_ids):
        """Raise ScoreError naming the first row whose text or id had bytes invalid in the encoding."""
        # One search over the whole chunk; rows are looked at one by one only when it finds something.
        if not (_UNDECODABLE.search("".join(texts)) or (check_ids and _UNDECODABLE.search("".join(ids)))):
            return
        for offset, (key, text) in enumerate(zip(ids, texts, strict=True)):
            for column, value in ((self.text_column, text), (self.id_column, key if check_ids else "")):
                found = _UNDECODABLE.search(value)
                if found:
                    byte = ord(found.group()) - 0xDC00
                    raise ScoreError(
                        f"{self.name}: row {first_row + offset}: byte 0x{byte:02x} in the {column!r} column"
                        f" is not valid {self.encoding}; convert the file or pass --encoding"
                    )


class Scorer:
    """Turns chunks of text into log-odds, in this process or in a pool of ``jobs`` workers.

    Each worker loads and verifies the artifact itself (the pool's initializer);
    only chunks of text go to the workers and only their log-odds come back.
    """

    def __init__(self, directory, name, jobs):
        self.directory = str(directory)
        self.name = name
        self.jobs = jobs
        self.model = None
        self.pool = None

    def __enter__(self):
        """Load the model here (one job) or start the workers (several)."""
        if self.jobs == 1:
            self.model = artifacts.load(self.directory, self.name)[0]
        else:
            # fork: the workers share the modules this process already imported and start at once;
            # nothing else is inherited, since the pool starts before any reading, writing or thread.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.pool = context.Pool(
                self.jobs, initializer=_init_worker, initargs=(self.directory, self.name)
            )
        return self

    def __exit__(self, kind, error, trace):
        """Stop the workers: let them finish after success, kill them after a failure."""
        if self.pool is not None:
            if kind is None:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
        return False

    def map(self, chunks):
        """Yield ``(ids, log-odds)`` for each ``(ids, texts)`` of ``chunks``, in order."""
        if self.pool is None:
            for ids, texts in chunks:
                yield ids, self.model.decision_function(texts).tolist()
            return
        # Not Pool.imap: its feeder thread would read the whole input ahead of the workers.
        # A window of at most IN_FLIGHT_PER_JOB chunks per worker keeps memory flat and the
        # reading in this thread, where a fault in the file is raised with its row.
        pending = deque()
        for ids, texts in chunks:
            pending.append((ids, self.pool.apply_async(_score_texts, (texts,))))
            if len(pending) >= IN_FLIGHT_PER_JOB * self.jobs:
                ids, result = pending.popleft()
                yield ids, result.get()
        while pending:
            ids, result = pending.popleft()
            yield ids, result.get()


# The model of a worker process, set by _init_worker: never sent from the parent.
_worker_model = None


def _init_worker(directory, name):
    """Load and verify the model in a new worker; keep a failure to raise with the first chunk."""
    global _worker_model  # one model per worker process, set once
    # Ctrl-C reaches every process of the group: the parent alone decides to stop the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _worker_model = artifacts.load(directory, name)[0]
    except ModelError as exc:
        # Raising here would make the pool restart the worker again and again.
        _worker_model = exc


def _score_texts(texts):
    """Return the log-odds of one chunk of texts, in a worker."""
    if isinstance(_worker_model, Exception):
        raise _worker_model
    return _worker_model.decision_function(texts).tolist()
