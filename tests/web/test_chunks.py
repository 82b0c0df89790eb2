"""Chunks sized by time: the first for the slowest rate, then the measured one, growing 2x at most."""

from model.serving import chunks
from model.serving.chunks import score_in_chunks


class _Clock:
    """A perf_counter that the fake scorer advances by its cost: chunk sizes without real timing."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_chunks_start_small_and_grow_to_the_measured_rate(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(chunks.time, "perf_counter", clock)
    sizes = []

    def score(batch):
        sizes.append(len(batch))
        clock.now += sum(map(len, batch)) * 1e-6  # 1 us a character
        return [float(len(text)) for text in batch]

    texts = ["x" * 100] * 1000
    out = score_in_chunks(score, texts, chunk_seconds=0.01, between=lambda: None)
    assert out == [100.0] * 1000
    # 4 us a character guessed: 25 tweets; then 2x, 2x, and the measured 1 us: 100 tweets a chunk.
    assert sizes[:4] == [25, 50, 100, 100]
    assert sum(sizes) == 1000


def test_a_slow_run_shrinks_the_next_chunk_at_once(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(chunks.time, "perf_counter", clock)
    sizes = []
    rates = iter([1e-6] * 4 + [1e-5] * 100)

    def score(batch):
        sizes.append(len(batch))
        clock.now += sum(map(len, batch)) * next(rates)
        return [0.0] * len(batch)

    score_in_chunks(score, ["x" * 100] * 600, chunk_seconds=0.01, between=lambda: None)
    # After the slow chunk (10 us a character) the next holds 10 ms of it: 10 tweets.
    assert sizes[:6] == [25, 50, 100, 100, 100, 10]


def test_between_runs_after_every_chunk_and_one_text_is_never_split():
    calls = []
    out = score_in_chunks(lambda b: [1.0] * len(b), ["x" * 10_000] * 3, 1e-9, lambda: calls.append(1))
    assert out == [1.0] * 3
    assert len(calls) == 3


def test_a_batch_within_the_first_chunk_is_one_call_and_one_pause_and_none_is_nothing():
    batches, pauses = [], []

    def score(batch):
        batches.append(list(batch))
        return [1.0] * len(batch)

    # The first chunk holds 2500 characters (10 ms at the slowest rate guessed): 25 tweets of 100 fit.
    assert score_in_chunks(score, ["x" * 100] * 25, 0.01, lambda: pauses.append(1)) == [1.0] * 25
    assert [len(batch) for batch in batches] == [25]
    assert pauses == [1]
    # One more character does not fit: two chunks, as the sizing says.
    score_in_chunks(score, ["x" * 100] * 24 + ["x" * 101], 0.01, lambda: pauses.append(1))
    assert [len(batch) for batch in batches[1:]] == [24, 1]
    assert score_in_chunks(score, [], 0.01, lambda: pauses.append(1)) == []
    assert len(batches) == 3 and len(pauses) == 3
