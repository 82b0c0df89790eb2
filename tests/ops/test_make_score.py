"""`make score` on a file whose columns are not `text` and `id`: TEXT_COLUMN and ID_COLUMN reach the scorer.

The scorer's own error message for a missing `text` column tells the user to choose another one;
through make, that choice is TEXT_COLUMN=... (and ID_COLUMN=... for the ids).
"""

import csv
import subprocess

from tests.e2e import ROOT

ROWS = [("t-1", "I love this, what a great day"), ("t-2", "worst service ever, so angry")]


def _make_score(tmp_path, *options):
    """Run `make score` on a CSV of ROWS under the columns `key` and `body`; return the finished process."""
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["key", "body"])
        writer.writerows(ROWS)
    scored = tmp_path / "out.csv"
    command = ["make", "--no-print-directory", "score", f"IN={source}", f"OUT={scored}", *options]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_make_score_takes_the_text_and_id_columns(tmp_path):
    done = _make_score(tmp_path, "TEXT_COLUMN=body", "ID_COLUMN=key")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as scored:
        rows = list(csv.DictReader(scored))
    assert [(row["id"], row["label"]) for row in rows] == [("t-1", "Positive"), ("t-2", "Negative")]


def test_without_text_column_the_scorer_names_the_missing_column(tmp_path):
    done = _make_score(tmp_path)
    assert done.returncode != 0
    assert "no 'text' column" in done.stderr
    assert not (tmp_path / "out.csv").exists()
