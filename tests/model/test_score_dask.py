"""Bulk scoring on a Dask cluster (`python -m model score --dask ADDRESS`): same output, flat memory."""

import csv
import hashlib
import random
from collections import deque
from types import SimpleNamespace

import dask.config
import pytest
from distributed import Client, LocalCluster
from distributed.scheduler import KilledWorker

from model.errors import ScoreError
from model.scoring import cluster, pool
from model.serving.artifacts import DEFAULT_DIR
from tests.e2e import free_port, wait_until
from tests.model.helpers import _main, _peak_kib, _run, _tweet, _write_tweets

# A tweet that must never appear in a log line or a message, whatever fails.
SECRET = "my secret tweet about the merger"
# Distinct tweets the big files cycle through: a prime, so that chunks do not repeat one another.
DISTINCT = 10_007


@pytest.fixture(scope="module")
def scheduler():
    """The address of a local Dask cluster of 2 worker processes of 1 thread, on loopback."""
    # Configured as the README says to run a scheduler and workers: no log of recent messages (tweets).
    with (
        dask.config.set(cluster.NO_MESSAGE_LOG),
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as local,
    ):
        yield local.scheduler_address


def _write_many(path, rows):
    """Write ``rows`` rows of id,text quickly (a cycle of generated tweets); return the path."""
    rng = random.Random(rows)
    tweets = [_tweet(rng) for _ in range(DISTINCT)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("id", "text"))
        for start in range(0, rows, DISTINCT):  # bounded: rows / DISTINCT batches
            count = min(DISTINCT, rows - start)
            writer.writerows((f"t{start + i}", tweets[i]) for i in range(count))
    return path


def _sha256(path):
    """Return the SHA-256 of a file, read in blocks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def test_a_million_rows_on_two_dask_workers_equal_one_process_with_flat_client_memory(scheduler, tmp_path):
    small = _write_many(tmp_path / "100k.csv", 100_000)
    big = _write_many(tmp_path / "1m.csv", 1_000_000)
    chunks = ("--chunk-size", 10_000, "-q")
    done = _run(big, "-o", tmp_path / "single.csv", *chunks)
    assert done.returncode == 0, done.stderr
    # The client runs in its own process, so that its peak RSS is its own (the cluster is this one's).
    peaks = {
        rows: _peak_kib(path, "-o", tmp_path / f"dask-{rows}.csv", "--dask", scheduler, *chunks)
        for rows, path in ((100_000, small), (1_000_000, big))
    }
    assert _sha256(tmp_path / "dask-1000000.csv") == _sha256(tmp_path / "single.csv")
    with open(tmp_path / "dask-100000.csv", "rb") as handle:
        assert sum(1 for _ in handle) == 100_001
    assert peaks[1_000_000] <= 1.5 * peaks[100_000], peaks
    # Stricter than the ratio, which ~175 MiB of imports hide: measured +1 MiB. Dask's log of each
    # connection's recent messages, left on, kept every chunk sent (+50 MiB here) and passed the ratio.
    assert peaks[1_000_000] - peaks[100_000] < 10 * 1024, peaks


def test_dask_writes_exactly_what_one_process_writes_ndjson_and_odd_rows(scheduler, tmp_path, capsys):
    _write_tweets(tmp_path / "in.csv", 3001, seed=8)
    args = ("--format", "ndjson", "--no-detail", "--chunk-size", 97)
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "one.ndjson", "-q", *args)[0] == 0
    status, _, err = _main(
        capsys, tmp_path / "in.csv", "-o", tmp_path / "dask.ndjson", "--dask", scheduler, *args
    )
    assert status == 0, err
    assert (tmp_path / "dask.ndjson").read_bytes() == (tmp_path / "one.ndjson").read_bytes()
    assert f"rows per second, on the Dask cluster at {scheduler})" in err


def test_the_client_keeps_only_a_bounded_window_in_flight(scheduler):
    pulled = []

    def chunks():
        for i in range(60):
            pulled.append(i)
            yield [str(i)], ["what a lovely day :)"]

    with cluster.scorer(scheduler, str(DEFAULT_DIR), "freqlr") as score_chunks:
        results = score_chunks(chunks())
        first_ids, first_scores = next(results)
        # Two worker threads, two chunks each.
        assert len(pulled) <= pool.IN_FLIGHT_PER_JOB * 2, "read ahead without bound"
        rest = list(results)
    assert [first_ids, *[ids for ids, _ in rest]] == [[str(i)] for i in range(60)]
    assert first_scores[0] > 0


def test_a_worker_with_another_artifact_fails_the_run_and_its_log_shows_no_text(
    scheduler, tmp_path, capsys, monkeypatch
):
    # The client's manifest names a hash no worker's artifact has: as if a worker had another folder.
    monkeypatch.setattr(cluster, "_digest", lambda directory, name: "0" * 64)
    (tmp_path / "in.csv").write_text(f"id,text\n1,{SECRET}\n2,{SECRET} :)\n", encoding="utf-8")
    status, _, err = _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--dask", scheduler)
    assert status == 1
    assert "has no 'freqlr' artifact with SHA-256 000000000000..., the client's" in err
    assert "same artifact folder at the same path" in err
    assert SECRET not in err
    assert not (tmp_path / "out.csv").exists()
    # Dask's worker logs a failed task; some versions with its arguments, which show as their count.
    assert repr(cluster.Texts([SECRET, SECRET])) == "<2 texts>"
    with Client(scheduler, set_as_default=False) as client:
        wait_until(
            lambda: any("Compute Failed" in message for _, message in _worker_logs(client)),
            "the worker's log of the failed chunk",
        )
        logged = [message for _, message in [*_worker_logs(client), *client.get_scheduler_logs()]]
    assert not [message for message in logged if "merger" in message]


def _worker_logs(client):
    """Return the recent log records of every worker of the cluster, as (level, message) pairs."""
    return [record for records in client.get_worker_logs().values() for record in records]


def test_an_unreachable_scheduler_or_one_without_workers_is_one_line_error(tmp_path, capsys, monkeypatch):
    _write_tweets(tmp_path / "in.csv", 5)
    assert (cluster.CONNECT_SECONDS, cluster.WORKERS_SECONDS) == (30, 60), "the README's figures"
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 1)
    monkeypatch.setattr(cluster, "WORKERS_SECONDS", 1)
    address = f"tcp://127.0.0.1:{free_port()}"
    status, _, err = _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--dask", address)
    assert (status, err) == (
        1,
        f"error: cannot use the Dask scheduler at {address}: Timed out trying to connect to {address}"
        " after 1 s\n",
    )
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address="127.0.0.1:0") as empty:
        args = ("-o", tmp_path / "out.csv", "--dask", empty.scheduler_address)
        status, _, err = _main(capsys, tmp_path / "in.csv", *args)
    assert (status, err) == (
        1,
        f"error: no Dask worker joined the scheduler at {empty.scheduler_address} in 1 s\n",
    )
    assert not (tmp_path / "out.csv").exists()


class _LostChunk:
    """A chunk's future whose workers all died: what Dask gives after its retries."""

    released = False

    def result(self):
        raise KilledWorker("sentiment-score-x-1", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)

    def release(self):
        self.released = True


def test_a_chunk_the_cluster_lost_fails_the_run_naming_its_rows():
    lost = _LostChunk()
    pending = deque([(10_001, [f"t{i}" for i in range(10_000)], lost)])
    with pytest.raises(ScoreError, match=r"^rows 10001-20000: the Dask cluster failed to score them: "):
        cluster._collect(pending)
    assert lost.released and not pending


def test_dask_and_jobs_are_exclusive(tmp_path, capsys):
    status, _, err = _main(capsys, tmp_path / "in.csv", "-o", "-", "--jobs", 2, "--dask", "tcp://127.0.0.1:1")
    assert status == 2
    assert "argument --dask: not allowed with argument --jobs" in err
