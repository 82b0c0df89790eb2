"""Bulk scoring (`python -m model score`): progress, flat memory, the API's answers, parallel runs, errors."""

import csv
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from model import score, text
from model.__main__ import main
from model.artifacts import DEFAULT_DIR, load
from model.errors import ArtifactError
from model.labels import sigmoid
from tests.e2e import BODY, ROOT

URL = "/api/v1/predict"
API_BATCH = 1000  # API_MAX_ITEMS
WORDS = (  # noqa: SIM905 - a line of words reads better than fifty quoted strings
    "love hate great awful happy sad good bad best worst day night work friends movie food rain sun"
    " tired excited miss thanks sorry never not can't don't really so very lol omg home school sick"
    " amazing boring fun lost won the a to and i you it is was this that my your"
).split()
EXTRAS = [":)", ":(", ":D", ";)", ":-(", "<3", "!!", "?", "...", "#fail", "#win", "@bob", "😀", "♥"]
EXTRAS += ["http://t.co/x", "www.example.com", "loooove", "soooo", "&amp;", "&lt;3", "Café", "naïve"]
# Fields a CSV writer must quote, and text the tokenizer finds nothing in.
ODD_TEXTS = ['she said "hi", then left', "line one\nline two :(", "", "   ", "!!!", "a,b,c good"]


def _tweet(rng):
    """Return one made-up tweet of 4 to 16 words, emoticons and the like."""
    return " ".join(rng.choices(WORDS + EXTRAS, k=rng.randint(4, 16)))


def _write_tweets(path, rows, seed=0, columns=("id", "user", "bio", "text"), odd=True):
    """Write ``rows`` generated tweets as CSV with ``columns``; return the (id, text) pairs written.

    The text is not the first column, and a bio column the scorer never reads makes a
    row several times its tweet's size, as real exports are: an implementation holding
    the file in memory shows in its peak.
    """
    rng = random.Random(seed)
    written = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(rows):
            text = ODD_TEXTS[i % len(ODD_TEXTS)] if odd and i % 97 == 5 else _tweet(rng)
            values = {
                "id": f"t{i}",
                "user": f"user{rng.randrange(1000)}",
                "bio": " ".join(rng.choices(WORDS, k=40)),
                "text": text,
            }
            writer.writerow([values[column] for column in columns])
            written.append((values["id"], text))
    return written


def _run(*args, stdin=None):
    """Run `python -m model score` with ``args``; return the CompletedProcess (text, captured)."""
    return subprocess.run(
        [sys.executable, "-m", "model", "score", *map(str, args)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _main(capsys, *args):
    """Run the score command in this process; return (exit status, stdout, stderr)."""
    try:
        status = main(["score", *map(str, args)])
    except SystemExit as exc:  # argparse refusing an argument
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _scored(path):
    """Return the rows of an output CSV after checking its header."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "label", "score"]
    return rows[1:]


# The peak RSS of a command and every process it starts: a fresh wrapper process runs it, so
# RUSAGE_CHILDREN holds only that command's tree (the largest single process in it, in KiB).
_PEAK = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _peak_kib(*args):
    """Return the peak RSS in KiB of `python -m model score` with ``args``."""
    command = [sys.executable, "-c", _PEAK, sys.executable, "-m", "model", "score", *map(str, args)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return int(done.stdout)


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


@pytest.mark.parametrize(("model", "rows"), [("freqlr", 3000), ("nblr", 600)])
def test_labels_and_scores_are_the_apis(client, auth_header, tmp_path, capsys, model, rows):
    written = _write_tweets(tmp_path / "in.csv", rows, seed=3)
    args = (tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--model", model, "--chunk-size", 256)
    status, _, err = _main(capsys, *args)
    assert status == 0, err
    answers = {}
    for start in range(0, rows, API_BATCH):
        body = dict(written[start : start + API_BATCH])
        response = client.post(f"{URL}?detail=true&model={model}", json=body, headers=auth_header)
        assert response.status_code == 200, response.get_json()
        answers.update(response.get_json())
    scored = _scored(tmp_path / "out.csv")
    assert [key for key, _, _ in scored] == [key for key, _ in written], "every row, in input order"
    assert {key: {"label": label, "score": float(p)} for key, label, p in scored} == answers
    assert {label for _, label, _ in scored} == {"Positive", "Negative"}


def test_the_default_model_is_the_manifests(tmp_path, capsys):
    _write_tweets(tmp_path / "in.csv", 200)
    for name, args in (("default", []), ("freqlr", ["--model", "freqlr"]), ("nblr", ["--model", "nblr"])):
        assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / f"{name}.csv", "-q", *args)[0] == 0
    default = (tmp_path / "default.csv").read_bytes()
    assert default == (tmp_path / "freqlr.csv").read_bytes()
    assert default != (tmp_path / "nblr.csv").read_bytes()


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

    with score.Scorer(DEFAULT_DIR, "freqlr", jobs=2) as scorer:
        results = scorer.map(chunks())
        first_ids, first_scores = next(results)
        assert len(pulled) <= score.IN_FLIGHT_PER_JOB * 2, "read ahead without bound"
        rest = list(results)
    assert [first_ids, *[ids for ids, _ in rest]] == [[str(i)] for i in range(200)]
    assert first_scores[0] > 0


def test_without_an_id_column_rows_are_numbered(tmp_path, capsys):
    written = _write_tweets(tmp_path / "in.csv", 120, columns=("user", "text"))
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "-q")[0] == 0
    assert [key for key, _, _ in _scored(tmp_path / "out.csv")] == [
        str(i) for i in range(1, len(written) + 1)
    ]


def test_other_column_names_and_standard_streams(tmp_path, capsys):
    _write_tweets(tmp_path / "in.csv", 50, columns=("id", "text"))
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "-q")[0] == 0
    renamed = (tmp_path / "in.csv").read_text(encoding="utf-8").replace("id,text", "tweet_id,body", 1)
    done = _run("-", "-o", "-", "--text-column", "body", "--id-column", "tweet_id", stdin=renamed)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert done.stdout.startswith("id,label,score\nt0,")
    assert done.stdout.count("\n") == 51
    assert done.stderr.endswith(": <stdout>\n")


def test_a_byte_order_mark_and_a_huge_field_are_read(tmp_path, capsys):
    huge = f"{BODY['t1']} " * 8_000  # 264,000 characters: above the csv module's default field limit
    (tmp_path / "in.csv").write_bytes(
        b"\xef\xbb\xbfid,text\n" + f'a,"{huge}"\nb,"{BODY["t2"]}"\n'.encode(),
    )
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv")[0] == 0
    model = load(DEFAULT_DIR)[0]
    expected = model.decision_function([huge, BODY["t2"]]).tolist()
    assert _scored(tmp_path / "out.csv") == [
        ["a", "Positive" if expected[0] > 0 else "Negative", repr(sigmoid(expected[0]))],
        ["b", "Negative", repr(sigmoid(expected[1]))],
    ]


def _bad_utf8(path):
    path.write_bytes(b"id,text\n1,good day\n2,fine\n3,caf\xe9 bad\n4,ok\n")


def _missing_column(path):
    path.write_text("id,tweet\n1,hello\n", encoding="utf-8")


def _short_row(path):
    path.write_text("text,id\nhello,1\nbye\n", encoding="utf-8")


def _empty(path):
    path.write_bytes(b"")


def _unclosed_quote(path):
    path.write_text('id,text\n1,"hello\n' + "x" * (score.MAX_FIELD_CHARS + 10), encoding="utf-8")


@pytest.mark.parametrize(
    ("make_input", "args", "status", "message"),
    [
        (_missing_column, [], 1, "in.csv: no 'text' column in the header row (columns: 'id', 'tweet')"),
        (_missing_column, ["--text-column", "body"], 1, "no 'body' column"),
        (_bad_utf8, [], 1, "in.csv: row 3: byte 0xe9 in the 'text' column is not valid utf-8"),
        (_short_row, [], 1, "in.csv: row 2 (line 3) has 1 field(s); the header has 2"),
        (_empty, [], 1, "in.csv: empty file"),
        (_unclosed_quote, [], 1, "in.csv: row 1 (line 3): field larger than field limit (16777216); an"),
        (None, [], 1, "cannot read"),
        (_missing_column, ["--model", "nope"], 1, "unknown model 'nope'"),
        (_missing_column, ["--encoding", "klingon"], 1, "unknown encoding 'klingon'"),
        (_missing_column, ["--jobs", "-1"], 2, "--jobs: invalid integer >= 0 value: '-1'"),
        (_missing_column, ["--chunk-size", "0"], 2, "--chunk-size: invalid integer >= 1 value: '0'"),
    ],
)
def test_errors_say_what_is_wrong_and_write_nothing(tmp_path, capsys, make_input, args, status, message):
    if make_input is not None:
        make_input(tmp_path / "in.csv")
    result = _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", *args)
    assert result[0] == status
    assert message in result[2]
    assert list(tmp_path.iterdir()) == ([tmp_path / "in.csv"] if make_input else [])


def test_an_error_is_one_line_and_an_exit_status_not_a_traceback(tmp_path):
    _missing_column(tmp_path / "in.csv")
    done = _run(tmp_path / "in.csv", "-o", tmp_path / "out.csv")
    assert done.returncode == 1
    assert done.stderr == f"error: {tmp_path / 'in.csv'}: no 'text' column in the header row" + (
        " (columns: 'id', 'tweet'); choose one with --text-column\n"
    )


def test_unknown_model_lists_the_valid_ones(tmp_path, capsys):
    _write_tweets(tmp_path / "in.csv", 5)
    status, _, err = _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--model", "nope")
    assert status == 1
    assert err.strip().endswith("has: freqlr, nblr")


def test_a_directory_is_not_an_input_and_the_input_is_not_an_output(tmp_path, capsys):
    assert "Is a directory" in _main(capsys, tmp_path, "-o", tmp_path / "out.csv")[2]
    _write_tweets(tmp_path / "in.csv", 5)
    status, _, err = _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "in.csv")
    assert status == 1
    assert "refusing to overwrite the input file" in err
    assert (tmp_path / "in.csv").read_text(encoding="utf-8").startswith("id,user,bio,text\n")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_altered_artifact_is_refused(tmp_path, capsys, jobs):
    artifacts = tmp_path / "artifacts"
    shutil.copytree(DEFAULT_DIR, artifacts)
    with open(artifacts / "freqlr.json", "ab") as handle:
        handle.write(b" ")
    _write_tweets(tmp_path / "in.csv", 5)
    args = (tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--artifacts", artifacts, "--jobs", jobs)
    status, _, err = _main(capsys, *args)
    assert status == 1
    assert "fails its SHA-256 check" in err
    assert not (tmp_path / "out.csv").exists()


def test_a_worker_that_cannot_load_its_model_fails_the_first_chunk(tmp_path):
    # A worker must not raise in the pool's initializer (the pool would restart it forever):
    # it keeps the error and raises it for the chunk it is given.
    handler = signal.getsignal(signal.SIGINT)
    try:
        score._init_worker(str(tmp_path), "freqlr")
    finally:
        signal.signal(signal.SIGINT, handler)
        assert signal.getsignal(signal.SIGINT) is handler
    with pytest.raises(ArtifactError, match="manifest missing"):
        score._score_texts(["hello"])
    score._worker_model = None
