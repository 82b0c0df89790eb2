"""`make api-start`, as a new operator runs it: certificates, a first token, HTTPS, and the README's curl."""

import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.e2e import client_context, request, wait_for_token, wait_ready

pytestmark = pytest.mark.e2e


def test_make_api_start_serves_https_with_the_printed_token(api_start):
    port, out_path, process = api_start
    token = wait_for_token(out_path, process)
    context = client_context(ROOT / "certs" / "ca.crt")
    url = f"https://localhost:{port}"
    wait_ready(url, context, process, out_path)
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
