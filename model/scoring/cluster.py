"""Chunks of text turned into log-odds on a Dask cluster: ``python -m model score --dask tcp://host:8786``.

The same chunked scoring as the process pool (pool.py), with the cluster's workers in place of the
pool's: this process reads the input and writes the output, keeping a bounded window of chunks in
flight, so its memory stays flat whatever the file's size; only chunks of text go to the workers and
only their log-odds come back. Each worker process loads the model once, from the artifact folder at
the SAME PATH as here, and checks that its SHA-256 is the one this process's manifest names.

Dask's protocol pickles tasks and results: the scheduler and the workers must be private and trusted.
"""

import gc
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from functools import cache, partial

import dask.config
import numpy as np
from distributed import Client, Future
from distributed.scheduler import KilledWorker
from numpy.typing import NDArray

from model.errors import ArtifactError, ScoreError
from model.scoring.pool import IN_FLIGHT_PER_JOB, ScoreChunks, Scored
from model.scoring.reader import Chunk
from model.serving import artifacts
from model.serving.base import TweetClassifier

# How long to wait for the scheduler to answer, then for a first worker to join it.
CONNECT_SECONDS = 30
WORKERS_SECONDS = 60
# What the tasks' keys start with, as the scheduler's dashboard and logs show them.
KEY_PREFIX = "sentiment-score"
# Dask keeps each connection's last 1000 messages under 1 MB for debugging: 1000 chunks of tweets
# here (the client's memory would grow with the file, up to ~0.5 GB) and on the scheduler. None kept.
NO_MESSAGE_LOG = {"distributed.admin.low-level-log-length": 0}

# One chunk in flight: its first row's number, its ids, and the future of its log-odds.
_Pending = deque[tuple[int, list[str], Future]]


class Texts:
    """A chunk's texts on their way to a worker, shown as their count: Dask logs a failed task's arguments."""

    __slots__ = ("items",)

    def __init__(self, items: list[str]) -> None:
        self.items = items

    def __repr__(self) -> str:
        """Return the count of texts, never a text (Dask's worker logs a failed task's repr)."""
        return f"<{len(self.items)} texts>"


@contextmanager
def scorer(address: str, directory: str, name: str) -> Iterator[ScoreChunks]:
    """Yield a function scoring chunks with model ``name`` on the Dask cluster whose scheduler is ``address``.

    On leaving, the chunks still in flight are released: the cluster drops them.
    """
    digest = _digest(directory, name)
    with dask.config.set(NO_MESSAGE_LOG), _connect(address) as client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError as exc:
            raise ScoreError(
                f"no Dask worker joined the scheduler at {address} in {WORKERS_SECONDS} s"
            ) from exc
        # Two chunks per worker thread, as the pool keeps two per process: none waits for the reader.
        window = IN_FLIGHT_PER_JOB * max(1, sum(client.nthreads().values()))
        yield partial(_score_on_cluster, client, window, directory, name, digest)


def _connect(address: str) -> Client:
    """Return a client of the scheduler at ``address``, or raise ScoreError saying why not."""
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, ValueError) as exc:
        # The half-made client closes itself when collected: now, not at exit, where it would
        # wait for its timeout again and print a traceback.
        gc.collect()
        raise ScoreError(f"cannot use the Dask scheduler at {address}: {exc}") from exc


def _digest(directory: str, name: str) -> str:
    """Return the SHA-256 this process's manifest names for model ``name``'s artifact, checked."""
    manifest = artifacts.read_manifest(directory)
    entry = manifest.get("models", {}).get(name)
    if not isinstance(entry, dict):
        raise ArtifactError(f"model {name!r} is not in {directory}")
    artifacts.read_verified(directory, entry["file"], manifest)
    digest: str = manifest["files"][entry["file"]]
    return digest


def _score_on_cluster(
    client: Client, window: int, directory: str, name: str, digest: str, chunks: Iterable[Chunk]
) -> Iterator[Scored]:
    """Yield ``(ids, log-odds)`` for each ``(ids, texts)`` of ``chunks``, in order, scored on the cluster."""
    # Not client.map over the whole input: at most ``window`` chunks in flight keeps memory flat
    # and the reading here, where a fault in the file is raised with its row.
    run = uuid.uuid4().hex[:12]
    pending: _Pending = deque()
    first_row = 1
    for index, (ids, texts) in enumerate(chunks):
        future = client.submit(
            score_texts, directory, name, digest, Texts(texts), key=f"{KEY_PREFIX}-{run}-{index}"
        )
        pending.append((first_row, ids, future))
        first_row += len(ids)
        if len(pending) >= window:
            yield _collect(pending)
    while pending:
        yield _collect(pending)


def _collect(pending: _Pending) -> Scored:
    """Wait for the oldest chunk in flight; return its ids and log-odds (a failure names its rows)."""
    first_row, ids, future = pending.popleft()
    try:
        scores: list[float] = future.result().tolist()
    except (KilledWorker, CancelledError, OSError, RuntimeError) as exc:
        # A worker lost, the scheduler gone, or a graph it cannot read (another environment).
        rows = f"rows {first_row}-{first_row + len(ids) - 1}"
        raise ScoreError(f"{rows}: the Dask cluster failed to score them: {exc}") from exc
    finally:
        future.release()  # now, not when collected: the cluster forgets the result at once
    return ids, scores


def score_texts(directory: str, name: str, digest: str, texts: Texts) -> NDArray[np.float64]:
    """Return the log-odds of one chunk of texts, on a Dask worker."""
    # An array, not the list log_odds() makes: Dask serializes a list's items one by one, 10x the
    # scoring's own time; the array goes as one buffer and tolist() gives the same floats.
    return _worker_model(directory, name, digest).decision_function(texts.items)


@cache
def _worker_model(directory: str, name: str, digest: str) -> TweetClassifier:
    """Return this worker process's model, loaded and verified once; raise ArtifactError if it differs."""
    manifest = artifacts.read_manifest(directory)
    entry = manifest.get("models", {}).get(name)
    found = manifest.get("files", {}).get(entry["file"]) if isinstance(entry, dict) else None
    if found != digest:
        raise ArtifactError(
            f"the worker's {directory} has no {name!r} artifact with SHA-256 {digest[:12]}..., the client's:"
            " give every worker the same artifact folder at the same path"
        )
    # load() checks the file itself against the manifest's SHA-256.
    return artifacts.load(directory, name)[0]
