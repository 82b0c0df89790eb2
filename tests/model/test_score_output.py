"""Bulk scoring (`python -m model score`): the API's answers, the default model, columns, odd input."""

import pytest

from model.serving.artifacts import DEFAULT_DIR, load
from model.serving.labels import sigmoid
from tests.e2e import BODY
from tests.model.helpers import API_BATCH, URL, _main, _run, _scored, _write_tweets


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
