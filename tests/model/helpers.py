"""Helpers of the bulk scoring tests (tests/model/test_score_*.py): made-up tweets, running the command."""

import csv
import random
import subprocess
import sys

from model.__main__ import main
from tests.e2e import ROOT

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
