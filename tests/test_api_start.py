"""`make api-start`, as a new operator runs it: certificates, a first token, HTTPS, and the README's curl."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT
from tests.e2e import client_context, free_port, request

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_start(tmp_path):
    """Run `make api-start` with a fresh tokens file; yield (port, output file); stop it after."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "API_TOKENS_FILE": str(tmp_path / "tokens.json")}
    out_path = tmp_path / "api-start.out"
    with open(out_path, "wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "api-start"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield port, out_path, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _wait_for_token(out_path, process, timeout=120):
    """Return the first token printed by `make api-start` (a line that starts with sa_)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tokens = [line for line in out_path.read_text().splitlines() if line.startswith("sa_")]
        if tokens:
            return tokens[0]
        assert process.poll() is None, out_path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"no token printed:\n{out_path.read_text()}")


def test_make_api_start_serves_https_with_the_printed_token(api_start):
    port, out_path, process = api_start
    token = _wait_for_token(out_path, process)
    context = client_context(ROOT / "certs" / "ca.crt")
    url = f"https://localhost:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if request(url + "/readyz", context)[0] == 200:
                break
        except OSError:
            assert time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.3)
    status, _, answer = request(url + "/api/v1/predict", context, body={"1": "I love it"}, token=token)
    assert (status, answer) == (200, {"1": "Positive"})

    curl = shutil.which("curl")
    if curl:  # the README's own example, as a user types it
        result = subprocess.run(
            [
                curl,
                "-sk",
                f"{url}/api/v1/predict",
                "-H",
                f"Authorization: Bearer {token}",
                "-H",
                "Content-Type: application/json",
                "-d",
                '{"a": "what a lovely day", "b": "I hate mondays"}',
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert result.stdout.strip() == '{"a":"Positive","b":"Negative"}'
