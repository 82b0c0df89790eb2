"""The job API's answers: submit, show, list, cancel or delete, result; whose jobs a token sees; the
metrics, /readyz, retention and the log lines (request and job ids, never a tweet)."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.history.engine import make_engine
from api.jsonlog import JSONFormatter
from api.web import jobs, jobshapes
from tests.web.jobs_helpers import (
    MARK,
    bearer,
    error_of,
    finish,
    jobs_app,
    submit,
    tweets_csv,
    tweets_ndjson,
)
from tests.web.metrics_helpers import samples, value

JOB_ROUTES = {
    ("/api/v1/jobs", "post"),
    ("/api/v1/jobs", "get"),
    ("/api/v1/jobs/{job_id}", "get"),
    ("/api/v1/jobs/{job_id}", "delete"),
    ("/api/v1/jobs/{job_id}/result", "get"),
}


@pytest.fixture
def world(make_app, tmp_path, monkeypatch):
    """An app with jobs of its own and a recording queue: (app, client, queue)."""
    app, queue = jobs_app(make_app, tmp_path, monkeypatch)
    return app, app.test_client(), queue


@pytest.fixture
def bob(tokens):
    """The Authorization header of another, ordinary token."""
    return bearer(tokens[0], "bob")


@pytest.fixture
def admin(tokens):
    """The Authorization header of an admin token."""
    return bearer(tokens[0], "root", admin=True)


def submitted(client, headers, body=None, **kwargs):
    """Submit a job (25 rows by default) and return its JSON, checking the 202."""
    response = submit(client, headers, tweets_csv(25) if body is None else body, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_a_submission_answers_202_with_the_job_and_where_it_is(world, auth_header):
    _, client, queue = world
    response = submit(client, auth_header, tweets_csv(25))
    assert response.status_code == 202
    job = response.get_json()
    jobshapes.Job.model_validate(job)  # the shape the OpenAPI document states
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["state"], job["rows"], job["format"], job["detail"]) == (
        "queued",
        {"done": 0, "total": 25},
        "csv",
        True,
    )
    assert (job["model"], job["result"], job["started"]) == ("freqlr", None, None)
    assert queue.sent == [(job["id"], 3)]  # 25 rows in chunks of 10


def test_the_options_are_the_scoring_commands(world, auth_header):
    _, client, _ = world
    body = "key,tweet,extra\n" + "".join(f"k{i},{MARK} {i},x\n" for i in range(4))
    query = "?model=nblr&detail=false&format=ndjson&text_column=tweet&id_column=key"
    job = submitted(client, auth_header, body, query=query)
    assert (job["model"], job["detail"], job["format"], job["rows"]["total"]) == ("nblr", False, "ndjson", 4)


@pytest.mark.parametrize(
    "content_type", ["application/x-ndjson", "application/jsonl", "text/csv; charset=utf-8"]
)
def test_csv_and_ndjson_are_taken_by_their_media_types(world, auth_header, content_type):
    _, client, _ = world
    body = tweets_csv(3) if content_type.startswith("text/csv") else tweets_ndjson(3)
    job = submitted(client, auth_header, body, content_type=content_type)
    assert job["rows"]["total"] == 3
    assert job["format"] == ("csv" if content_type.startswith("text/csv") else "ndjson")


def test_a_job_is_shown_to_its_token_and_an_admin_and_is_404_to_another(world, auth_header, bob, admin):
    _, client, _ = world
    job = submitted(client, auth_header)
    path = f"/api/v1/jobs/{job['id']}"
    assert client.get(path, headers=auth_header).get_json()["id"] == job["id"]
    assert client.get(path, headers=admin).status_code == 200
    theirs = client.get(path, headers=bob)
    never = client.get(f"/api/v1/jobs/{'0' * 32}", headers=bob)
    assert error_of(theirs) == error_of(never) == (404, "job_not_found", None)
    assert theirs.get_json() == never.get_json()  # another's job and no job are alike
    assert error_of(client.get(path + "/result", headers=bob))[:2] == (404, "job_not_found")
    assert error_of(client.delete(path, headers=bob))[:2] == (404, "job_not_found")
    assert client.get(path, headers=auth_header).get_json()["state"] == "queued"  # untouched by bob


def test_the_list_holds_the_callers_jobs_newest_first_and_every_job_for_an_admin(
    world, auth_header, bob, admin
):
    _, client, _ = world
    first, second = submitted(client, auth_header), submitted(client, auth_header)
    other = submitted(client, bob)
    listed = client.get("/api/v1/jobs", headers=auth_header).get_json()
    jobshapes.Jobs.model_validate(listed)
    assert [job["id"] for job in listed["jobs"]] == [second["id"], first["id"]]
    assert [job["id"] for job in client.get("/api/v1/jobs", headers=bob).get_json()["jobs"]] == [other["id"]]
    everyone = client.get("/api/v1/jobs", headers=admin).get_json()["jobs"]
    assert {job["id"] for job in everyone} == {first["id"], second["id"], other["id"]}


def test_deleting_an_active_job_cancels_it_and_deleting_it_again_removes_it(world, auth_header, tmp_path):
    _, client, _ = world
    job = submitted(client, auth_header)
    path = f"/api/v1/jobs/{job['id']}"
    cancelled = client.delete(path, headers=auth_header)
    assert cancelled.status_code == 200
    assert (cancelled.get_json()["state"], cancelled.get_json()["finished"] is not None) == (
        "cancelled",
        True,
    )
    assert (tmp_path / "jobs" / job["id"]).is_dir()  # kept until deleted or expired
    deleted = client.delete(path, headers=auth_header)
    assert (deleted.status_code, deleted.data) == (204, b"")
    assert not (tmp_path / "jobs" / job["id"]).exists()
    assert error_of(client.get(path, headers=auth_header))[:2] == (404, "job_not_found")


def test_the_result_is_409_until_the_job_succeeded(world, auth_header):
    _, client, _ = world
    job = submitted(client, auth_header)
    response = client.get(f"/api/v1/jobs/{job['id']}/result", headers=auth_header)
    assert error_of(response)[:2] == (409, "job_not_finished")


@pytest.mark.parametrize(("fmt", "media_type"), [("csv", "text/csv"), ("ndjson", "application/x-ndjson")])
def test_a_succeeded_jobs_result_is_its_file_as_an_attachment(world, auth_header, fmt, media_type):
    app, client, _ = world
    job = submitted(client, auth_header, query=f"?format={fmt}")
    result = finish(app, job["id"])
    shown = client.get(f"/api/v1/jobs/{job['id']}", headers=auth_header).get_json()
    assert (shown["state"], shown["rows"]["done"], shown["result"]) == (
        "succeeded",
        25,
        f"/api/v1/jobs/{job['id']}/result",
    )
    response = client.get(shown["result"], headers=auth_header)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.headers["Content-Disposition"] == f"attachment; filename=scores-{job['id']}.{fmt}"
    assert response.headers["Content-Length"] == str(result.stat().st_size)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data == result.read_bytes()
    first = response.data.decode().splitlines()[:2]
    assert first[0] == "id,label,score" if fmt == "csv" else json.loads(first[0])["id"] == "1"


def test_a_result_deleted_by_retention_meanwhile_is_a_404(world, auth_header):
    app, client, _ = world
    job = submitted(client, auth_header)
    finish(app, job["id"]).unlink()
    assert error_of(client.get(f"/api/v1/jobs/{job['id']}/result", headers=auth_header))[:2] == (
        404,
        "job_not_found",
    )


def test_expired_jobs_are_deleted_by_the_next_job_request(world, auth_header, tmp_path):
    app, client, _ = world
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as clock:
        old = submitted(client, auth_header)
        finish(app, old["id"])
        clock.shift(timedelta(hours=23))
        young = submitted(client, auth_header)
        clock.shift(timedelta(hours=1, minutes=1))  # old expired (24 h), young not yet
        listed = client.get("/api/v1/jobs", headers=auth_header).get_json()["jobs"]
    assert [job["id"] for job in listed] == [young["id"]]
    assert not (tmp_path / "jobs" / old["id"]).exists() and (tmp_path / "jobs" / young["id"]).is_dir()


def test_readyz_reports_the_broker_without_making_the_server_unready(world):
    _, client, queue = world
    assert client.get("/readyz").get_json()["jobs"] == {
        "broker": "embedded",
        "ok": True,
        "error": None,
        "embedded": True,
    }
    queue.state = {"broker": "amqp", "ok": False, "error": "ConnectionRefusedError: [Errno 111]"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["jobs"]["ok"] is False


def test_the_metrics_count_jobs_by_state_and_the_queue_depth_at_each_scrape(world, auth_header, admin):
    _, client, queue = world
    first = submitted(client, auth_header)
    submitted(client, auth_header)
    client.delete(f"/api/v1/jobs/{first['id']}", headers=auth_header)
    queue.waiting = 17
    scraped = samples(client.get("/metrics", headers=admin).get_data(as_text=True))
    assert value(scraped, "sentiment_jobs", state="queued") == 1
    assert value(scraped, "sentiment_jobs", state="cancelled") == 1
    assert value(scraped, "sentiment_jobs", state="succeeded") == 0
    assert value(scraped, "sentiment_job_queue_depth") == 17


def test_a_scrape_succeeds_when_the_job_database_and_broker_do_not_answer(
    world, admin, monkeypatch, tmp_path
):
    app, client, queue = world
    # A folder where the database file should be: SQLite cannot open it, as a server that is down.
    monkeypatch.setattr(jobs.JOBS.of(app).service.store, "engine", make_engine(f"sqlite:///{tmp_path}"))
    queue.waiting = None
    response = client.get("/metrics", headers=admin)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "sentiment_http_requests_total" in text
    assert "sentiment_jobs{" not in text and "\nsentiment_job_queue_depth " not in text


def test_the_document_lists_every_job_operation(world):
    _, client, _ = world
    spec = client.get("/api/v1/openapi.json").get_json()
    listed = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert listed >= JOB_ROUTES
    post = spec["paths"]["/api/v1/jobs"]["post"]
    assert set(post["requestBody"]["content"]) == {"text/csv", "application/x-ndjson", "application/jsonl"}
    assert {"202", "400", "401", "413", "415", "429", "503", "507"} <= set(post["responses"])
    assert "Location" in post["responses"]["202"]["headers"]
    assert [p["name"] for p in post["parameters"]] == list(jobshapes.SUBMIT_PARAMETERS)
    result = spec["paths"]["/api/v1/jobs/{job_id}/result"]["get"]["responses"]
    assert set(result["200"]["content"]) == {"text/csv", "application/x-ndjson"} and "409" in result
    assert set(spec["paths"]["/api/v1/jobs/{job_id}"]["delete"]["responses"]) >= {"200", "204", "404"}


class Lines(logging.Handler):
    """Formats each record as the server's log does, as it is written (while its request is served)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(JSONFormatter())
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    """Every log line written during the test, as JSON objects."""
    handler, root = Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_log_lines_carry_the_job_id_and_never_a_tweet(world, auth_header, log_lines):
    app, client, _ = world
    job = submitted(client, auth_header)
    submit(client, auth_header, tweets_csv(3) + f"{MARK} broken row\n")  # refused: bad row
    finish(app, job["id"])
    client.get(f"/api/v1/jobs/{job['id']}/result", headers=auth_header)
    client.delete(f"/api/v1/jobs/{job['id']}", headers=auth_header)
    assert log_lines and not [line for line in log_lines if MARK in json.dumps(line)]
    mine = [line for line in log_lines if line["logger"] == "api.web.jobs"]
    assert [line["message"] for line in mine][:1] == ["job submitted: 25 rows in 3 chunks"]
    assert {line.get("job_id") for line in mine} == {job["id"]}
    assert all(line["request_id"] for line in mine)
