"""Scoring a batch in chunks sized by time, so that a scorer can give the CPU up between two.

A chunk's cost per character varies 20-fold: about 0.1 us for short tweets the
worker's memos already know, 2 us (freqlr) and 3.4 us (nblr, which also pays
~1.4 ms a call for its vectorisers) for random words that no memo helps
(measured in process, one core). So the size of the next chunk follows the rate
the last one was scored at: the first is sized for the slowest rate measured,
and a chunk may grow at most twofold over the last, so that warm tweets come in
large chunks (few calls) while a run of cold ones cannot make one overlong.
"""

import time
from collections.abc import Callable

# The slowest rate measured (nblr on random words, with its per-call cost), rounded up.
FIRST_GUESS_SECONDS_PER_CHAR = 4e-6
MAX_GROWTH = 2.0


def score_in_chunks(
    score: Callable[[list[str]], list[float]],
    texts: list[str],
    chunk_seconds: float,
    between: Callable[[], None],
) -> list[float]:
    """Return ``score(texts)``, computed a chunk of about ``chunk_seconds`` at a time, calling
    ``between`` after each chunk."""
    out: list[float] = []
    start, rate = 0, FIRST_GUESS_SECONDS_PER_CHAR
    while start < len(texts):
        end, size = _chunk_end(texts, start, max(1, round(chunk_seconds / rate)))
        began = time.perf_counter()
        out.extend(score(texts[start:end]))
        measured = (time.perf_counter() - began) / max(size, 1)
        rate = max(measured, rate / MAX_GROWTH)
        start = end
        between()
    return out


def _chunk_end(texts: list[str], start: int, max_chars: int) -> tuple[int, int]:
    """Return the end of the chunk from ``start`` of at most ``max_chars`` characters (one text at least)
    and its characters."""
    end, size = start, 0
    while end < len(texts) and (end == start or size + len(texts[end]) <= max_chars):
        size += len(texts[end])
        end += 1
    return end, size
