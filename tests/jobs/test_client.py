"""The job client (`python -m api jobs ...`) against a scripted HTTPS server on 127.0.0.1.

The server is a stub, so that what the client sends (streamed body, length, token, options) and how
it meets each answer (429 retries, errors, a failed job, a cut download) can be checked exactly; the
client against the real API runs in tests/jobs/test_client_live.py.
"""

import json
import socket

import pytest

from api.jobs import client
from api.ops import cli, jobs_cli
from api.ops.certs import generate

TOKEN = "sa_test-token-never-an-argument"
JOB_ID = "0123456789abcdef0123456789abcdef"


def job(state="queued", done=0, total=3, errors=()):
    """Return a job's JSON as the API shows it."""
    return {
        "id": JOB_ID,
        "state": state,
        "rows": {"done": done, "total": total},
        "errors": list(errors),
        "created": "2026-01-01T00:00:00Z",
    }


def run(stub, certs, *argv, environ=None, sleeps=None):
    """Run `python -m api jobs ARGV` against the stub; return the exit status."""
    parsed = cli._parser().parse_args(
        [
            "jobs",
            *argv,
            "--url",
            f"https://127.0.0.1:{stub.server_address[1]}",
            "--cafile",
            str(certs / "ca.crt"),
        ]
    )
    environ = {client.TOKEN_ENV: TOKEN} if environ is None else environ
    return jobs_cli.run(parsed, environ, sleep=(sleeps if sleeps is not None else []).append)


@pytest.fixture
def tweets(tmp_path):
    """A small CSV to upload."""
    path = tmp_path / "tweets.csv"
    path.write_bytes(b"id,text\n1,good\n2,bad\n3,meh\n")
    return path


def test_submit_streams_the_file_with_its_length_the_token_and_the_options(stub, certs, tweets, capsys):
    stub.answers = [(202, {"Location": f"/api/v1/jobs/{JOB_ID}"}, job())]
    status = run(stub, certs, "submit", str(tweets), "--no-detail", "--model", "nblr", "--format", "ndjson")
    assert status == jobs_cli.EXIT_OK
    ((method, path, headers, body),) = stub.requests
    assert (method, body) == ("POST", tweets.read_bytes())
    assert path == "/api/v1/jobs?model=nblr&format=ndjson&detail=false"
    assert headers["Content-Length"] == str(tweets.stat().st_size)
    assert headers["Content-Type"] == "text/csv"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(capsys.readouterr().out)["id"] == JOB_ID


def test_an_ndjson_file_is_sent_as_ndjson(stub, certs, tmp_path):
    path = tmp_path / "tweets.jsonl"
    path.write_text('{"id": "1", "text": "good"}\n')
    stub.answers = [(202, {}, job())]
    assert run(stub, certs, "submit", str(path)) == jobs_cli.EXIT_OK
    assert stub.requests[0][2]["Content-Type"] == "application/x-ndjson"
    assert stub.requests[0][1] == "/api/v1/jobs"


def test_without_the_token_variable_nothing_is_sent(stub, certs, tweets, capsys):
    assert run(stub, certs, "submit", str(tweets), environ={}) == jobs_cli.EXIT_ERROR
    assert client.TOKEN_ENV in capsys.readouterr().err
    assert stub.requests == []


def test_the_token_is_never_an_argument(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli._parser().parse_args(["jobs", "list", "--token", TOKEN])
    assert exit_.value.code == 2


def test_a_429_is_sent_again_after_retry_after_and_the_body_again_whole(stub, certs, tweets):
    limited = (429, {"Retry-After": "7"}, {"error": {"code": "rate_limited", "message": "slow down"}})
    stub.answers = [limited, limited, (202, {}, job())]
    sleeps = []
    assert run(stub, certs, "submit", str(tweets), sleeps=sleeps) == jobs_cli.EXIT_OK
    assert sleeps == [7, 7]
    assert [request[3] for request in stub.requests] == [tweets.read_bytes()] * 3


def test_429_retries_are_bounded(stub, certs, tweets, capsys):
    limited = (429, {"Retry-After": "1"}, {"error": {"code": "rate_limited", "message": "slow down"}})
    stub.answers = [limited] * (client.RETRIES + 1)
    sleeps = []
    assert run(stub, certs, "submit", str(tweets), sleeps=sleeps) == jobs_cli.EXIT_ERROR
    assert len(sleeps) == client.RETRIES and len(stub.requests) == client.RETRIES + 1
    assert "HTTP 429 rate_limited: slow down" in capsys.readouterr().err


def test_a_429_without_retry_after_is_not_retried(stub, certs, tweets, capsys):
    stub.answers = [(429, {}, {"error": {"code": "too_many_jobs", "message": "2 jobs already"}})]
    sleeps = []
    assert run(stub, certs, "submit", str(tweets), sleeps=sleeps) == jobs_cli.EXIT_ERROR
    assert sleeps == [] and "HTTP 429 too_many_jobs: 2 jobs already" in capsys.readouterr().err


def test_an_error_answer_is_told_with_its_code_and_message(stub, certs, tweets, capsys):
    error = {"error": {"status": 400, "code": "bad_upload", "message": "upload: row 2 has 3 fields"}}
    stub.answers = [(400, {}, error)]
    assert run(stub, certs, "submit", str(tweets)) == jobs_cli.EXIT_ERROR
    assert "HTTP 400 bad_upload: upload: row 2 has 3 fields" in capsys.readouterr().err


def test_a_non_json_error_is_told_by_its_status(stub, certs, capsys):
    stub.answers = [(502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>")]
    assert run(stub, certs, "status", JOB_ID) == jobs_cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "HTTP 502" in err and "<html>" not in err


def test_wait_follows_the_job_and_downloads_its_result(stub, certs, tweets, tmp_path):
    out = tmp_path / "scored.csv"
    result = b"id,label,score\n1,Positive,0.9\n"
    stub.answers = [
        (202, {}, job()),
        (200, {}, job("running", 1)),
        (200, {}, job("succeeded", 3)),
        (200, {"Content-Type": "text/csv"}, result),
    ]
    sleeps = []
    assert run(stub, certs, "submit", str(tweets), "-o", str(out), sleeps=sleeps) == jobs_cli.EXIT_OK
    assert out.read_bytes() == result and not out.with_name("scored.csv.partial").exists()
    assert [request[1] for request in stub.requests][1:] == [
        f"/api/v1/jobs/{JOB_ID}",
        f"/api/v1/jobs/{JOB_ID}",
        f"/api/v1/jobs/{JOB_ID}/result",
    ]
    assert sleeps == [client.POLL_S]


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_wait_exits_non_zero_with_the_errors_of_a_job_that_did_not_succeed(
    stub, certs, tweets, capsys, state
):
    stub.answers = [(202, {}, job()), (200, {}, job(state, 1, errors=["rows 2-3: unknown model"]))]
    assert run(stub, certs, "submit", str(tweets), "--wait") == jobs_cli.EXIT_JOB_FAILED
    err = capsys.readouterr().err
    assert f"job {JOB_ID} {state}" in err and "rows 2-3: unknown model" in err


def test_a_download_cut_short_leaves_no_file(stub, certs, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    stub.answers = [(200, {"Content-Length": "1000"}, b"id,label\n1,Positive\n")]
    assert run(stub, certs, "result", JOB_ID, "-o", str(out)) == jobs_cli.EXIT_ERROR
    assert list(tmp_path.iterdir()) == []
    assert "nothing written" in capsys.readouterr().err


def test_cancel_prints_the_cancelled_job_and_a_deletion_says_so(stub, certs, capsys):
    stub.answers = [(200, {}, job("cancelled")), (204, {}, b"")]
    assert run(stub, certs, "cancel", JOB_ID) == jobs_cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["state"] == "cancelled"
    assert run(stub, certs, "cancel", JOB_ID) == jobs_cli.EXIT_OK
    assert f"job {JOB_ID} deleted" in capsys.readouterr().err
    assert [request[0] for request in stub.requests] == ["DELETE", "DELETE"]


def test_list_prints_one_job_a_line(stub, certs, capsys):
    stub.answers = [(200, {}, {"jobs": [job("running", 1), job("succeeded", 3)]})]
    assert run(stub, certs, "list") == jobs_cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1:3] for line in lines] == [["running", "1/3"], ["succeeded", "3/3"]]


def test_a_job_id_is_quoted_into_the_path(stub, certs):
    stub.answers = [(404, {}, {"error": {"code": "job_not_found", "message": "no such job"}})]
    assert run(stub, certs, "status", "../../admin?x=1") == jobs_cli.EXIT_ERROR
    assert stub.requests[0][1] == "/api/v1/jobs/..%2F..%2Fadmin%3Fx%3D1"


def test_only_https_urls_are_accepted(certs, capsys):
    parsed = cli._parser().parse_args(
        ["jobs", "list", "--url", "http://127.0.0.1:5000", "--cafile", str(certs / "ca.crt")]
    )
    assert jobs_cli.run(parsed, {client.TOKEN_ENV: TOKEN}) == jobs_cli.EXIT_ERROR
    assert "https://" in capsys.readouterr().err


def test_a_server_that_does_not_answer_is_an_error_not_a_traceback(certs, capsys):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, then closed on leaving: nothing listens there
    parsed = cli._parser().parse_args(
        ["jobs", "list", "--url", f"https://127.0.0.1:{port}", "--cafile", str(certs / "ca.crt")]
    )
    assert jobs_cli.run(parsed, {client.TOKEN_ENV: TOKEN}) == jobs_cli.EXIT_ERROR
    assert "cannot reach" in capsys.readouterr().err


def test_a_server_the_ca_did_not_sign_is_refused(stub, tmp_path, tweets, capsys):
    other = tmp_path / "other"
    generate(other)
    parsed = cli._parser().parse_args(
        [
            "jobs",
            "list",
            "--url",
            f"https://127.0.0.1:{stub.server_address[1]}",
            "--cafile",
            str(other / "ca.crt"),
        ]
    )
    assert jobs_cli.run(parsed, {client.TOKEN_ENV: TOKEN}) == jobs_cli.EXIT_ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
    assert stub.requests == []


def test_429_waits_are_bounded_in_all(stub, certs, tweets, capsys):
    long = (429, {"Retry-After": "200"}, {"error": {"code": "rate_limited", "message": "slow down"}})
    stub.answers = [long, long, (202, {}, job())]
    sleeps = []
    assert run(stub, certs, "submit", str(tweets), sleeps=sleeps) == jobs_cli.EXIT_ERROR
    assert sleeps == [200] and len(stub.requests) == 2  # 200 s more would pass 300 s in all
    assert "HTTP 429 rate_limited" in capsys.readouterr().err
