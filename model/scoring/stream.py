"""Bulk scoring: a CSV or NDJSON file of tweets streamed to ``id,label,score`` rows, a chunk at a time.

The input is read, scored and written a chunk at a time, so memory stays flat
whatever the file's size; with several jobs the chunks are scored by worker
processes (model.scoring.pool), with ``dask`` by a Dask cluster's (model.scoring.cluster).
"""

import math
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

from tqdm import tqdm

from model.errors import ArtifactError
from model.paths import AnyPath
from model.scoring.files import display, open_input, open_output
from model.scoring.output import OutputFormat, format_of, format_rows, header
from model.scoring.pool import ScoreChunks, available_cores, scorer
from model.scoring.reader import chunk_reader
from model.serving import artifacts
from model.serving.base import JSONObject

DEFAULT_CHUNK_ROWS = 1000


def score_file(
    source: str,
    destination: str,
    *,
    directory: AnyPath = artifacts.DEFAULT_DIR,
    name: str | None = None,
    text_column: str = "text",
    id_column: str = "id",
    jobs: int = 1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    encoding: str = "utf-8",
    input_format: OutputFormat | None = None,
    output_format: OutputFormat | None = None,
    detail: bool = True,
    dask: str | None = None,
    progress: bool | None = None,
    summary: bool = False,
) -> int:
    """Score every row of ``source`` into ``destination``; return the number of rows.

    Formats default to the file names' endings (.ndjson/.jsonl: NDJSON, else CSV); a
    standard stream or another ending writes the input's. ``detail`` adds P(Positive).
    ``dask``: the address of a Dask scheduler whose workers score, in place of ``jobs`` processes.
    ``progress``: True shows the bar, False hides it, None shows it only on a terminal.
    """
    input_format = input_format or format_of(source)
    output_format = output_format or format_of(destination, input_format)
    jobs = jobs or available_cores()
    name, entry = resolve_model(directory, name, verify=jobs > 1)
    with (
        open_input(source, encoding) as (handle, raw, size),
        _backend(str(directory), name, jobs, dask) as score_chunks,
        open_output(destination, source) as out,
    ):
        reader = chunk_reader(
            input_format, handle, display(source), text_column, id_column, chunk_rows, encoding
        )
        out.write(header(output_format, detail))
        started = time.perf_counter()
        # Made after the pool: the bar starts a monitor thread, and forking is safest with none.
        with tqdm(
            unit=" rows", unit_scale=True, file=sys.stderr, disable=_disabled(progress), mininterval=0.5
        ) as bar:
            for ids, scores in score_chunks(reader):
                out.write(format_rows(output_format, detail, ids, scores))
                if size:
                    bar.total = max(bar.n + len(ids), _estimate_rows(reader.rows, raw.tell(), size))
                bar.update(len(ids))
            bar.total = bar.n
        elapsed = time.perf_counter() - started
    if summary:
        rate = reader.rows / elapsed if elapsed > 0 else math.inf
        where = f"on the Dask cluster at {dask}" if dask else f"{jobs} job(s)"
        print(
            f"scored {reader.rows:,} rows in {elapsed:.2f} s ({rate:,.0f} rows per second, {where})"
            f" with {name} {entry['version']}: {display(destination, 'stdout')}",
            file=sys.stderr,
        )
    return reader.rows


def _backend(directory: str, name: str, jobs: int, dask: str | None) -> AbstractContextManager[ScoreChunks]:
    """Return what scores the chunks: a Dask cluster's workers, else this process or a pool of ``jobs``."""
    if dask is None:
        return scorer(directory, name, jobs)
    # Imported here: distributed takes a second to import, and only --dask needs it.
    from model.scoring import cluster

    return cluster.scorer(dask, directory, name)


def resolve_model(
    directory: AnyPath, name: str | None = None, verify: bool = False
) -> tuple[str, JSONObject]:
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


def _estimate_rows(rows: int, position: int, size: int) -> int:
    """Return the total rows a file of ``size`` bytes likely has, from ``rows`` in its first ``position``."""
    return round(rows * size / position) if position else rows


def _disabled(progress: bool | None) -> bool | None:
    """Return tqdm's ``disable`` for a progress choice (None: tqdm hides it when stderr is no terminal)."""
    return None if progress is None else not progress
