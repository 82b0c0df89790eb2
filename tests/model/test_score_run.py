"""Bulk scoring (`python -m model score`): progress, flat memory, streaming, parallel runs."""

import csv
import os
import select
import subprocess
import sys
import time

import pytest

from model.scoring import pool
from model.serving import text
from model.serving.artifacts import DEFAULT_DIR
from tests.e2e import ROOT
from tests.model.helpers import _main, _peak_kib, _run, _scored, _write_tweets


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """10,000 and 100,000 generated rows, written once for the module."""
    folder = tmp_path_factory.mktemp("score")
    sizes = {10_000: folder / "10k.csv", 100_000: folder / "100k.csv"}
    for rows, path in sizes.items():
        _write_tweets(path, rows, seed=rows)
    return sizes


def test_progress_is_shown_on_stderr_when_asked(tmp_path):
    _write_tweets(tmp_path / "in.csv", 2500)
    done = _run(tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--progress", "--chunk-size", 500)
    assert done.returncode == 0, done.stderr
    # tqdm's bar, finished: every row counted, a rate in rows per second.
    assert "100%|" in done.stderr
    assert "2.50k/2.50k" in done.stderr
    assert " rows/s]" in done.stderr
    assert "scored 2,500 rows" in done.stderr
    assert len(_scored(tmp_path / "out.csv")) == 2500


def test_progress_is_hidden_without_a_terminal_and_everything_with_quiet(tmp_path, capsys):
    _write_tweets(tmp_path / "in.csv", 300)
    status, _, err = _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv")
    assert status == 0, err
    assert "rows/s" not in err
    assert err.startswith("scored 300 rows")
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--quiet") == (0, "", "")


@pytest.mark.parametrize("jobs", [1, 2])
def test_peak_memory_is_flat_in_the_number_of_rows(inputs, tmp_path, jobs):
    peaks = {
        rows: _peak_kib(path, "-o", tmp_path / "out.csv", "--jobs", jobs) for rows, path in inputs.items()
    }
    assert peaks[100_000] <= 1.5 * peaks[10_000], peaks
    # Stricter than the ratio, which ~150 MiB of imports and model would hide: 90,000 more rows
    # (24 MB more file) may add 3 MiB at most. Measured: reading the whole file before scoring
    # adds ~18 MiB, keeping the output until the end ~14 MiB, giving the pool every chunk at once
    # ~12 MiB (--jobs 2); each still passes the 1.5x ratio.
    assert peaks[100_000] - peaks[10_000] < 3 * 1024, peaks


def test_new_words_in_every_row_do_not_grow_the_memos(tmp_path, capsys, monkeypatch):
    # Real files bring new words without end; the chunk and token memos must stay bounded.
    monkeypatch.setattr(text.CHUNKS, "maxsize", 1000)
    with open(tmp_path / "in.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "text"), *((i, f"new{i} word{i}s :)") for i in range(5000))])
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "-q")[0] == 0
    assert 0 < len(text.CHUNKS) <= 1000
    tokens = text.analyse.cache_info()
    assert tokens.maxsize is not None
    assert tokens.currsize <= tokens.maxsize


def test_output_is_written_as_the_input_arrives(tmp_path):
    rows = _write_tweets(tmp_path / "in.csv", 1500, columns=("id", "text"), odd=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "model", "score", "-", "-o", "-", "--chunk-size", "100", "-q"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        # Far less than a pipe holds either way: neither side can block the other.
        process.stdin.write((tmp_path / "in.csv").read_bytes())
        process.stdin.flush()
        early = b""
        deadline = time.monotonic() + 120
        while b"\nt0," not in early and time.monotonic() < deadline:
            if select.select([process.stdout], [], [], 1)[0]:
                early += os.read(process.stdout.fileno(), 1 << 16)
        # The input is still open: rows came out before the scorer could know where the file ends.
        assert b"\nt0," in early
        process.stdin.close()
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()
    lines = (early + rest).decode().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [key for key, _ in rows]


def test_two_jobs_write_exactly_what_one_job_writes(tmp_path, capsys):
    _write_tweets(tmp_path / "in.csv", 5003, seed=5)
    # A chunk size that does not divide the rows: many chunks, a short last one.
    args = ["--chunk-size", 97, "-q"]
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out1.csv", "--jobs", 1, *args)[0] == 0
    done = _run(tmp_path / "in.csv", "-o", tmp_path / "out2.csv", "--jobs", 2, *args)
    assert done.returncode == 0, done.stderr
    one = (tmp_path / "out1.csv").read_bytes()
    assert one == (tmp_path / "out2.csv").read_bytes()
    assert one.count(b"\n") == 5004


def test_workers_read_only_a_bounded_window_ahead():
    pulled = []

    def chunks():
        for i in range(200):
            pulled.append(i)
            yield [str(i)], ["what a lovely day :)"]

    with pool.scorer(str(DEFAULT_DIR), "freqlr", jobs=2) as score_chunks:
        results = score_chunks(chunks())
        first_ids, first_scores = next(results)
        assert len(pulled) <= pool.IN_FLIGHT_PER_JOB * 2, "read ahead without bound"
        rest = list(results)
    assert [first_ids, *[ids for ids, _ in rest]] == [[str(i)] for i in range(200)]
    assert first_scores[0] > 0
