"""Bulk scoring (`python -m model score`): errors say what is wrong, write nothing, exit with a status."""

import shutil
import signal

import pytest

from model.errors import ArtifactError
from model.scoring import pool
from model.scoring.reader import MAX_FIELD_CHARS
from model.serving.artifacts import DEFAULT_DIR
from tests.model.helpers import _main, _run, _write_tweets


def _bad_utf8(path):
    path.write_bytes(b"id,text\n1,good day\n2,fine\n3,caf\xe9 bad\n4,ok\n")


def _missing_column(path):
    path.write_text("id,tweet\n1,hello\n", encoding="utf-8")


def _short_row(path):
    path.write_text("text,id\nhello,1\nbye\n", encoding="utf-8")


def _empty(path):
    path.write_bytes(b"")


def _unclosed_quote(path):
    path.write_text('id,text\n1,"hello\n' + "x" * (MAX_FIELD_CHARS + 10), encoding="utf-8")


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
        pool._init_worker(str(tmp_path), "freqlr")
    finally:
        signal.signal(signal.SIGINT, handler)
        assert signal.getsignal(signal.SIGINT) is handler
    try:
        with pytest.raises(ArtifactError, match="manifest missing"):
            pool._score_texts(str(tmp_path), "freqlr", ["hello"])
    finally:
        pool._worker_model.cache_clear()
