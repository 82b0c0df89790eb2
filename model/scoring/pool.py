"""Chunks of text turned into log-odds, in this process or in a pool of worker processes.

Each worker loads and verifies the artifact itself (the pool's initializer);
only chunks of text go to the workers and only their log-odds come back, never a model.
"""

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from multiprocessing.pool import AsyncResult, Pool

from model.errors import ModelError
from model.scoring.reader import Chunk
from model.serving import artifacts
from model.serving.base import TweetClassifier

# Chunks in flight per worker: one being scored and one queued, so a worker never waits for the reader.
IN_FLIGHT_PER_JOB = 2

# One chunk scored: the ids of its rows and their log-odds.
Scored = tuple[list[str], list[float]]
# Scores chunks in order, lazily: one chunk is read for each one scored, give or take the window.
ScoreChunks = Callable[[Iterable[Chunk]], Iterator[Scored]]


def available_cores() -> int:
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def scorer(directory: str, name: str, jobs: int) -> Iterator[ScoreChunks]:
    """Yield a function scoring chunks with model ``name``: loaded here for one job, else in ``jobs`` workers.

    On leaving, the workers finish after success and are killed after a failure.
    """
    if jobs == 1:
        yield partial(_score_here, artifacts.load(directory, name)[0])
        return
    # fork: the workers share the modules this process already imported and start at once;
    # nothing else is inherited, since the pool starts before any reading, writing or thread.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = context.Pool(jobs, initializer=_init_worker, initargs=(directory, name))
    try:
        yield partial(_score_in_pool, pool, IN_FLIGHT_PER_JOB * jobs, directory, name)
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def _score_here(model: TweetClassifier, chunks: Iterable[Chunk]) -> Iterator[Scored]:
    """Yield ``(ids, log-odds)`` for each ``(ids, texts)`` of ``chunks``, scored in this process."""
    for ids, texts in chunks:
        yield ids, model.log_odds(texts)


def _score_in_pool(
    pool: Pool, window: int, directory: str, name: str, chunks: Iterable[Chunk]
) -> Iterator[Scored]:
    """Yield ``(ids, log-odds)`` for each ``(ids, texts)`` of ``chunks``, in order, scored by the workers."""
    # Not Pool.imap: its feeder thread would read the whole input ahead of the workers.
    # A window of at most ``window`` chunks in flight keeps memory flat and the reading
    # in this thread, where a fault in the file is raised with its row.
    pending: deque[tuple[list[str], AsyncResult[list[float]]]] = deque()
    for ids, texts in chunks:
        pending.append((ids, pool.apply_async(_score_texts, (directory, name, texts))))
        if len(pending) >= window:
            yield _collect(pending)
    while pending:
        yield _collect(pending)


def _collect(pending: deque[tuple[list[str], AsyncResult[list[float]]]]) -> Scored:
    """Wait for the oldest chunk in flight; return its ids and log-odds."""
    ids, result = pending.popleft()
    return ids, result.get()


def _init_worker(directory: str, name: str) -> None:
    """Load and verify the model in a new worker, before its first chunk arrives."""
    # Ctrl-C reaches every process of the group: the parent alone decides to stop the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_model(directory, name)


@cache
def _worker_model(directory: str, name: str) -> TweetClassifier | ModelError:
    """Return the model of this worker, loaded once; or the error that stopped it, to raise per chunk."""
    try:
        return artifacts.load(directory, name)[0]
    except ModelError as exc:
        # Raising in the pool's initializer would make the pool restart the worker again and again.
        return exc


def _score_texts(directory: str, name: str, texts: list[str]) -> list[float]:
    """Return the log-odds of one chunk of texts, in a worker."""
    model = _worker_model(directory, name)
    if isinstance(model, ModelError):
        raise model
    return model.log_odds(texts)
