"""`python -m api jobs ...` against a real server: Gunicorn over TLS, its embedded worker scoring the job.

The client runs as a user would run it (a process, the token in API_TOKEN, the server verified
against the CA file), and its download must equal `python -m model score` byte for byte.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.e2e import ROOT, running_server
from tests.jobs.live import reference_score, sha256_of, write_tweets_csv

ROWS = 3000
# The server's upload limit here: far above ROWS' file, far below BIG_ROWS' (~10 MB, more than the
# connection's buffers hold, so that the server refuses it while the client is still sending).
UPLOAD_LIMIT = 1 << 20
BIG_ROWS = 200_000
CLIENT_TIMEOUT = 300  # a deadline for a slow machine, not a speed


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of the module's own: jobs in its folder, scored by its embedded worker in chunks of 500."""
    folder = tmp_path_factory.mktemp("server")
    env = {
        "API_JOBS_DIR": str(folder / "jobs"),
        "API_JOBS_CHUNK_ROWS": "500",
        "API_JOBS_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
    }
    with running_server(folder, env=env) as running:
        yield running


def client(server, *args, token=None):
    """Run `python -m api jobs ARGS` against ``server``; return the finished process."""
    command = [sys.executable, "-m", "api", "jobs", *args]
    command += ["--url", f"https://localhost:{server.port}", "--cafile", str(server.certs / "ca.crt")]
    env = {**os.environ, "API_TOKEN": token or server.token}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)


@pytest.mark.e2e
def test_submit_wait_downloads_what_the_scoring_command_writes(server, tmp_path):
    tweets = write_tweets_csv(tmp_path / "tweets.csv", ROWS)
    out = tmp_path / "scored.csv"
    done = client(server, "submit", str(tweets), "--wait", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert sha256_of(out) == reference_score(tweets, tmp_path / "reference.csv")
    assert server.token not in done.stdout + done.stderr
    job_id = done.stderr.split()[1]  # "job <id> queued: 3,000 rows"
    status = client(server, "status", job_id)
    assert status.returncode == 0, status.stderr
    job = json.loads(status.stdout)
    assert (job["state"], job["rows"]) == ("succeeded", {"done": ROWS, "total": ROWS})
    listed = client(server, "list")
    assert f"{job_id}\tsucceeded\t{ROWS}/{ROWS}" in listed.stdout
    again = tmp_path / "again.csv"
    assert client(server, "result", job_id, "-o", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()
    deleted = client(server, "cancel", job_id)
    assert deleted.returncode == 0 and f"job {job_id} deleted" in deleted.stderr
    gone = client(server, "status", job_id)
    assert gone.returncode == 1 and "HTTP 404 job_not_found" in gone.stderr


@pytest.mark.e2e
def test_a_refused_upload_exits_1_with_the_apis_reason(server, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,fine\n2\n")
    refused = client(server, "submit", str(bad), "--wait")
    assert refused.returncode == 1
    assert "HTTP 400 bad_upload: upload: row 2 (line 3) has 1 field(s)" in refused.stderr


@pytest.mark.e2e
def test_a_wrong_token_exits_1_and_is_never_printed(server, tmp_path):
    tweets = write_tweets_csv(tmp_path / "tweets.csv", 3)
    refused = client(server, "submit", str(tweets), token="sa_not-a-real-token")
    assert refused.returncode == 1 and "HTTP 401 unauthorized" in refused.stderr
    assert "sa_not-a-real-token" not in refused.stdout + refused.stderr


@pytest.mark.e2e
def test_a_file_over_the_limit_is_told_as_the_servers_413_not_a_broken_connection(server, tmp_path):
    big = write_tweets_csv(tmp_path / "big.csv", BIG_ROWS)
    assert big.stat().st_size > 8 * UPLOAD_LIMIT
    refused = client(server, "submit", str(big))
    assert refused.returncode == 1
    assert f"HTTP 413 upload_too_large: the upload is larger than {UPLOAD_LIMIT} bytes" in refused.stderr
