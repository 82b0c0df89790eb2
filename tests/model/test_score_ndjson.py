"""Bulk scoring (`python -m model score`): NDJSON in and out, --no-detail, and CSV output unchanged."""

import csv
import io
import json

import pytest

from model.scoring.output import format_rows, header
from model.serving.artifacts import DEFAULT_DIR, load
from model.serving.labels import label_of, sigmoid
from tests.model.helpers import _main, _run, _scored, _write_tweets

# Ids csv.writer must quote, and one it need not.
ODD_IDS = ["a,b", 'say "hi"', "two\nlines", " lead", "plain", "ünï😀"]
# A tweet that must never appear in a message, whatever the error on its line.
SECRET = "my secret tweet about the merger"


def _write_ndjson(path, pairs, extra=None):
    """Write ``(id, text)`` pairs as NDJSON objects with a user key too; return the pairs."""
    with open(path, "w", encoding="utf-8") as handle:
        for key, text in pairs:
            handle.write(json.dumps({"user": "u", "id": key, "text": text, **(extra or {})}) + "\n")
    return pairs


def _reference_csv(pairs, detail=True):
    """Return what the command wrote before NDJSON existed: csv.writer over (id, label, score)."""
    scores = load(DEFAULT_DIR)[0].log_odds([text for _, text in pairs])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("id", "label", "score") if detail else ("id", "label"))
    for (key, _), x in zip(pairs, scores, strict=True):
        writer.writerow((key, label_of(x), sigmoid(x)) if detail else (key, label_of(x)))
    return out.getvalue()


def test_csv_output_is_byte_identical_to_csv_writer_with_or_without_detail(tmp_path, capsys):
    pairs = _write_tweets(tmp_path / "in.csv", 700, seed=11)
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "-q")[0] == 0
    assert (tmp_path / "out.csv").read_bytes() == _reference_csv(pairs).encode()
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "short.csv", "-q", "--no-detail")[0] == 0
    assert (tmp_path / "short.csv").read_bytes() == _reference_csv(pairs, detail=False).encode()


def test_format_rows_quotes_csv_as_csv_writer_and_ndjson_as_json():
    scores = [2.5, -1.0, 0.0, 30.0, -800.0, 1e-9]
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\n").writerows(
        (key, label_of(x), sigmoid(x)) for key, x in zip(ODD_IDS, scores, strict=True)
    )
    assert format_rows("csv", True, ODD_IDS, scores) == expected.getvalue()
    assert format_rows("csv", False, ["a,b"], [1.0]) == '"a,b",Positive\n'
    lines = format_rows("ndjson", True, ODD_IDS, scores).splitlines(keepends=True)
    assert len(lines) == len(ODD_IDS) and all(line.endswith("}\n") for line in lines)
    assert [json.loads(line) for line in lines] == [
        {"id": key, "label": label_of(x), "score": sigmoid(x)} for key, x in zip(ODD_IDS, scores, strict=True)
    ]
    assert '"id":"ünï😀"' in lines[-1], "compact, and not ASCII-escaped"
    assert format_rows("ndjson", False, ["7"], [-3.0]) == '{"id":"7","label":"Negative"}\n'
    assert (header("csv", True), header("csv", False), header("ndjson", True)) == (
        "id,label,score\n",
        "id,label\n",
        "",
    )


def test_ndjson_in_scores_as_the_same_rows_in_csv(tmp_path, capsys):
    pairs = _write_tweets(tmp_path / "in.csv", 1200, seed=4)
    _write_ndjson(tmp_path / "in.ndjson", pairs)
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "from-csv.csv", "-q")[0] == 0
    # The output's ending says CSV; the input's says NDJSON.
    args = ("-o", tmp_path / "from-ndjson.csv", "-q", "--chunk-size", 128)
    assert _main(capsys, tmp_path / "in.ndjson", *args)[0] == 0
    assert (tmp_path / "from-ndjson.csv").read_bytes() == (tmp_path / "from-csv.csv").read_bytes()


def test_ndjson_out_has_one_object_per_row_in_input_order(tmp_path, capsys):
    pairs = _write_tweets(tmp_path / "in.csv", 500, seed=9)
    _write_ndjson(tmp_path / "in.jsonl", pairs)
    assert _main(capsys, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "-q")[0] == 0
    assert _main(capsys, tmp_path / "in.jsonl", "-o", tmp_path / "out.ndjson", "-q")[0] == 0
    objects = [
        json.loads(line) for line in (tmp_path / "out.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    assert objects == [
        {"id": key, "label": label, "score": float(p)} for key, label, p in _scored(tmp_path / "out.csv")
    ]
    # --no-detail drops the score; a CSV input with --format ndjson writes NDJSON to stdout too.
    done = _run(tmp_path / "in.csv", "-o", "-", "--format", "ndjson", "--no-detail", "-q")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"id": item["id"], "label": item["label"]} for item in objects
    ]


def test_ndjson_ids_integers_absent_and_blank_lines(tmp_path, capsys):
    lines = [
        {"id": 41, "text": "love it :)"},
        {"text": "hate it :("},  # no id: its row number, 2
        {"id": "x", "text": "fine", "more": [1, {"a": None}]},
    ]
    text = "\n".join(json.dumps(line) for line in lines)
    (tmp_path / "in.txt").write_text("\n  \n" + text.replace("\n", "\n\r\n", 1) + "\n\n", encoding="utf-8")
    args = ("-o", tmp_path / "out.csv", "-q", "--input-format", "ndjson")
    assert _main(capsys, tmp_path / "in.txt", *args)[0] == 0
    assert [key for key, _, _ in _scored(tmp_path / "out.csv")] == ["41", "2", "x"]
    # From stdin, without a name to go by: the format is asked for, and the output is NDJSON too.
    done = _run("-", "-o", "-", "--input-format", "ndjson", "--id-column", "none", stdin=text)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["1", "2", "3"]


def _line(value):
    """Return the bytes of one NDJSON line holding ``value``."""
    return json.dumps(value).encode() + b"\n"


GOOD = _line({"id": 1, "text": "good day"})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"id": 3, "text": "' + SECRET.encode() + b'"\n', "row 3 (line 4): not valid JSON: Expecting"),
        (_line([SECRET]), "row 3 (line 4): a JSON object expected, not an array"),
        (_line({"tweet": SECRET}), "row 3 (line 4): no 'text' key; choose one with --text-column"),
        (_line({"text": [SECRET]}), "row 3 (line 4): the 'text' value is an array, not a string"),
        (_line({"id": True, "text": SECRET}), "row 3 (line 4): the 'id' value is a boolean, not a string"),
        (_line({"id": 1.5, "text": SECRET}), "row 3 (line 4): the 'id' value is a number, not a string"),
        (_line({"id": None, "text": SECRET}), "row 3 (line 4): the 'id' value is null, not a string"),
        (b'{"id": "\\ud800", "text": "' + SECRET.encode() + b'"}\n', "the 'id' value holds a lone surrogate"),
        (_line({"text": SECRET})[:-3] + b'\xe9"}\n', "row 3 (line 4): byte 0xe9 is not valid utf-8"),
        (b"[" * 100_000 + b"\n", "row 3 (line 4): not valid JSON: nested too deeply"),
        (b'{"text": "x", "n": ' + b"9" * 5000 + b"}\n", "row 3 (line 4): not valid JSON: a number too long"),
    ],
)
def test_ndjson_errors_name_the_row_never_the_text(tmp_path, capsys, bad, message):
    (tmp_path / "in.ndjson").write_bytes(GOOD + b"\n" + GOOD + bad + GOOD)
    status, _, err = _main(capsys, tmp_path / "in.ndjson", "-o", tmp_path / "out.ndjson")
    assert status == 1
    assert message in err
    assert err.startswith(f"error: {tmp_path / 'in.ndjson'}: row 3")
    assert "secret" not in err and "merger" not in err
    assert list(tmp_path.iterdir()) == [tmp_path / "in.ndjson"], "no output, not even a partial one"


def test_an_ndjson_line_past_the_limit_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("model.scoring.reader.MAX_FIELD_CHARS", 1000)
    fits = json.dumps({"text": "a" * (1000 - 12)})
    assert len(fits) == 1000
    (tmp_path / "in.ndjson").write_text(f"{fits}\n{fits}\r\n{fits}x\n", encoding="utf-8")
    status, _, err = _main(capsys, tmp_path / "in.ndjson", "-o", tmp_path / "out.ndjson")
    assert status == 1
    assert err == f"error: {tmp_path / 'in.ndjson'}: row 3 (line 3): longer than 1000 characters\n"
