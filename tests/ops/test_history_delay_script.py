"""scripts/history-delay.py, the README's measure of how soon a history row follows its answer.

It runs against a live server as the README says, finds each probe's row and prints the summary the
README quotes. No assertion on the delay itself (durations belong to `make bench` and the README).
"""

import os
import re
import sqlite3
import subprocess
import sys

import pytest

from tests.e2e import ROOT, running_server

pytestmark = pytest.mark.e2e

REQUESTS = 3
SUMMARY = re.compile(
    rf"^{REQUESTS} predicts: history row stored [\d.]+ ms after the answer"
    r" \(median; 90th percentile [\d.]+ ms, largest [\d.]+ ms\)$"
)


def test_the_script_times_each_probes_row_and_prints_the_summary(tmp_path):
    db = tmp_path / "history.db"
    with running_server(tmp_path, env={"API_HISTORY_URL": f"sqlite:///{db}"}) as server:
        command = [
            sys.executable,
            str(ROOT / "scripts" / "history-delay.py"),
            f"--url={server.url}",
            f"--ca={server.certs / 'ca.crt'}",
            f"--db={db}",
            f"--requests={REQUESTS}",
        ]
        env = {**os.environ, "TOKEN": server.token}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert SUMMARY.match(done.stdout.strip()), done.stdout
    with sqlite3.connect(db) as conn:
        probes = conn.execute("SELECT count(*) FROM predictions WHERE tweet_id LIKE 'delay-%'").fetchone()[0]
    assert probes == REQUESTS


def test_without_a_token_the_script_says_what_to_set(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TOKEN"}
    command = [sys.executable, str(ROOT / "scripts" / "history-delay.py"), f"--db={tmp_path / 'none.db'}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "set TOKEN" in done.stderr
