"""The OpenAPI document: valid, built from the app's limits, and no response of the server breaks it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import schemathesis

from api.ops.tokens import create_token
from tests.e2e import request, running_server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# --max-examples counts per operation. The GET operations without inputs are exhausted in a few
# cases; predict, the job submission and the job routes' ids take the rest.
MAX_EXAMPLES = 1200
MIN_CASES = 1000
OPERATIONS = 18  # the API's 14, the three pages and /metrics
# Lets schemathesis send a job's NDJSON upload as the text it is.
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
# The environment variables schemathesis.toml reads the bearer tokens from.
TOKEN_VARIABLE = "SCHEMATHESIS_TOKEN"
ADMIN_VARIABLE = "SCHEMATHESIS_ADMIN_TOKEN"


def _summary(output):
    """Return the console summary: everything from the SUMMARY rule on."""
    start = output.find(" SUMMARY ")
    return output[output.rfind("\n", 0, start) + 1 :] if start != -1 else output[-3000:]


def test_the_document_is_public_valid_openapi_3_1_with_the_app_limits(make_app):
    app = make_app(MAX_ITEMS=7, MAX_TWEET_CHARS=50, MAX_KEY_CHARS=9, MAX_BODY_BYTES=4096)
    response = app.test_client().get("/api/v1/openapi.json")  # no Authorization header
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(spec).validate()  # against the OpenAPI 3.1 meta-schema
    tweets = spec["components"]["schemas"]["Tweets"]
    assert (tweets["minProperties"], tweets["maxProperties"]) == (1, 7)
    assert tweets["additionalProperties"]["maxLength"] == 50
    assert (tweets["propertyNames"]["minLength"], tweets["propertyNames"]["maxLength"]) == (1, 9)
    assert "4096" in spec["components"]["responses"]["TooLarge"]["description"]


@pytest.fixture
def admin_token(tmp_path):
    """An admin token in the server's tokens file before it starts: /metrics answers 403 to any other."""
    folder = tmp_path / "server"
    folder.mkdir()
    return create_token(folder / "tokens.json", "e2e-admin", admin=True)


@pytest.fixture
def server(tmp_path, admin_token):
    """A Gunicorn of the test's own (schemathesis's requests then meet no other test's)."""
    folder = tmp_path / "server"
    # Jobs too: the submissions it makes run on the server's embedded worker, in the test's folder.
    with running_server(folder, env={"API_JOBS_DIR": str(folder / "jobs")}) as running:
        yield running


@pytest.mark.e2e
def test_schemathesis_finds_no_response_that_breaks_the_spec(server, admin_token, tmp_path):
    # The spec comes from the server, but schemathesis reads it from a file: given
    # the URL, it would leave out the operation that serves the document itself.
    status, _, spec = request(server.url + "/api/v1/openapi.json", server.context)
    assert status == 200
    assert len([op for item in spec["paths"].values() for op in item]) == OPERATIONS
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    report = tmp_path / "report.json"

    started = time.monotonic()
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            "openapi.json",
            "--url",
            server.url,
            "--tls-verify",
            str(server.certs / "ca.crt"),
            "--max-examples",
            str(MAX_EXAMPLES),
            # The failing examples of one run should not steer the next one.
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        cwd=tmp_path,
        # The tokens, which schemathesis.toml puts in the Authorization header (a --header would override
        # the admin token of /metrics there).
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            TOKEN_VARIABLE: server.token,
            ADMIN_VARIABLE: admin_token,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.monotonic() - started
    print(_summary(result.stdout))
    print(f"schemathesis ran for {elapsed:.1f}s")

    assert report.is_file(), result.stdout + result.stderr
    run = json.loads(report.read_text())
    cases = run["test_cases"]
    details = result.stdout[-8000:] + result.stderr + "\nserver log:\n" + server.log()[-4000:]
    assert result.returncode == 0, details
    assert (run["complete"], run["stop_reason"]) == (True, "completed"), details
    assert run["operations"]["tested"] == OPERATIONS, details
    assert cases["generated"] >= MIN_CASES, details
    assert (cases["with_failures"], cases["unique_failures"], cases["errored"]) == (0, 0, 0), details
    assert run["failures"] == [] and run["errors"] == [], details
    assert {kind: found for kind, found in run["warnings"].items() if found} == {}, details
