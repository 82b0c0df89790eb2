"""Jobs with no broker set: the embedded worker `make api-start` runs, and a limit refused over HTTPS.

The first test is a newcomer's: a fresh copy of the checkout, `make api-start` and nothing else (no
API_* variable, no RabbitMQ, no worker started by hand), the token it prints, a request as curl would
send it, the job polled to success and its result downloaded.
"""

import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.e2e import (
    ROOT,
    child_pids,
    client_context,
    running_server,
    wait_for_port,
    wait_for_token,
    wait_ready,
    wait_until,
)
from tests.jobs.live import JOB_TIMEOUT, JobClient, reference_score, sha256_of, write_tweets_csv

pytestmark = pytest.mark.e2e

# Three chunks of the default 5,000 rows: the embedded worker takes them one after the other.
ROWS = 12_000
STOP_TIMEOUT = 30


def copy_checkout(dest: Path) -> Path:
    """Copy the checkout's files (tracked and new, not ignored ones) to ``dest``, as a fresh clone has them.

    The virtual environment is linked, not rebuilt: file times are kept, so make finds it up to date.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not in a clone either
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def processes_in(folder: Path) -> set[int]:
    """Return the pids of processes whose working folder is ``folder`` (or inside it)."""
    found = set()
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.resolve(strict=True).is_relative_to(folder):
                found.add(int(cwd.parent.name))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue  # exited while we looked, or not ours to see
    return found


def call(url, context, token, data=None, headers=None, method=None):
    """One request with urllib, as curl sends it; return the open response (HTTPError is raised)."""
    request = urllib.request.Request(
        url, data=data, headers={"Authorization": f"Bearer {token}", **(headers or {})}, method=method
    )
    return urllib.request.urlopen(request, context=context, timeout=60)


def test_make_api_start_alone_on_a_fresh_clone_accepts_a_job_and_completes_it(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    source = write_tweets_csv(tmp_path / "tweets.csv", ROWS)
    expected = reference_score(source, tmp_path / "reference.csv")
    env = {key: value for key, value in os.environ.items() if not key.startswith("API_")}
    env["PORT"] = "0"  # any free port (the newcomer's 5000 may be taken here); the log tells which
    out, err = tmp_path / "api-start.out", tmp_path / "api-start.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "api-start"],
            cwd=clone,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        token = wait_for_token(err, make)
        url = f"https://localhost:{wait_for_port(err, make)}"
        context = client_context(clone / "certs" / "ca.crt")
        wait_ready(url, context, make, err)

        with open(source, "rb") as body:
            headers = {"Content-Type": "text/csv", "Content-Length": str(source.stat().st_size)}
            with call(url + "/api/v1/jobs", context, token, body, headers, "POST") as response:
                assert response.status == 202
                location = response.headers["Location"]
                job = json.loads(response.read())
        assert location == f"/api/v1/jobs/{job['id']}"

        def finished():
            with call(url + location, context, token) as response:
                polled = json.loads(response.read())
            return polled if polled["state"] in ("succeeded", "failed", "cancelled") else None

        job = wait_until(finished, "the job finished on the embedded worker", JOB_TIMEOUT)
        assert job["state"] == "succeeded", job
        assert job["rows"] == {"done": ROWS, "total": ROWS}
        with (
            call(url + job["result"], context, token) as response,
            open(tmp_path / "result.csv", "wb") as result,
        ):
            assert response.headers["Content-Type"].startswith("text/csv")
            shutil.copyfileobj(response, result)
        assert sha256_of(tmp_path / "result.csv") == expected

        # The server stops its worker with itself: nothing it started is left running.
        (master,) = child_pids(make.pid)
        os.kill(master, signal.SIGTERM)
        assert make.wait(timeout=STOP_TIMEOUT) == 0, err.read_text()[-3000:]
        wait_until(lambda: not processes_in(clone), "every process of the server gone", STOP_TIMEOUT)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            make.wait(timeout=STOP_TIMEOUT)
        for pid in processes_in(clone):  # what the server left behind: reported above, removed here
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_too_large_upload_is_refused_with_json_over_https(tmp_path, chunked):
    env = {"API_JOBS_MAX_UPLOAD_BYTES": "1024", "API_JOBS_DIR": str(tmp_path / "jobs")}
    source = write_tweets_csv(tmp_path / "tweets.csv", 200)
    assert source.stat().st_size > 2 * 1024
    with running_server(tmp_path, env=env, workers=1) as server:
        client = JobClient(server)
        status, headers, body = client.submit(source, chunked=chunked)
        assert (status, body["error"]["code"]) == (413, "upload_too_large"), body
        assert headers["Content-Type"] == "application/json"
        assert body["error"]["status"] == 413
        assert client.jobs() == (200, {"jobs": []})
    # Nothing half-made stays: no job folder (the embedded broker's own folder aside).
    assert [p.name for p in (tmp_path / "jobs").glob("*") if not p.name.startswith(".")] == []
