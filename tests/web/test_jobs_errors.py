"""Each refusal of the job API is its own JSON 4xx (5xx for the server's side), and leaves nothing behind."""

import io

import pytest
from gunicorn.http.errors import InvalidChunkSize

from tests.web.jobs_helpers import MARK, bearer, error_of, jobs_app, submit, tweets_csv

# JOBS_MAX_UPLOAD_BYTES' smallest allowed value: the size tests work at the limit.
LIMIT = 1024


@pytest.fixture
def world(make_app, tmp_path, monkeypatch):
    """Return a factory of (app, client, queue) with settings overridden by keyword."""

    def factory(**overrides):
        app, queue = jobs_app(make_app, tmp_path, monkeypatch, **overrides)
        return app, app.test_client(), queue

    return factory


def leftovers(tmp_path):
    """Return the job folders left under the jobs folder."""
    return [path.name for path in (tmp_path / "jobs").iterdir() if not path.name.startswith(".")]


def sized(size):
    """Return a CSV of exactly ``size`` bytes: whole rows, the last one's text padded."""
    body = tweets_csv(200)[: size - 40]
    body = body[: body.rfind("\n") + 1]
    last = f"999,{MARK} "
    return body + last + "x" * (size - len(body) - len(last) - 1) + "\n"


def chunked(stream):
    """Return the environ of a body sent without Content-Length (Transfer-Encoding: chunked), as Gunicorn
    gives it: a stream the server ends (wsgi.input_terminated)."""
    return {"wsgi.input": stream, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}


def post(client, headers, body, framing):
    """POST ``body`` as a CSV job, with its Content-Length or chunked."""
    headers = {**headers, "Content-Type": "text/csv"}
    if framing == "chunked":
        return client.post(
            "/api/v1/jobs", headers=headers, environ_overrides=chunked(io.BytesIO(body.encode()))
        )
    return client.post("/api/v1/jobs", headers=headers, data=body)


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("?colour=blue", "colour"),
        ("?detail=maybe", "detail"),
        ("?format=xml", "format"),
        ("?model=nope", "model"),
        ("?text_column=", "text_column"),
        ("?id_column=" + "c" * 257, "id_column"),
    ],
)
def test_a_wrong_parameter_is_a_400_naming_it(world, auth_header, tmp_path, query, key):
    _, client, queue = world()
    response = submit(client, auth_header, tweets_csv(3), query=query)
    assert error_of(response) == (400, "invalid_parameter", key)
    assert queue.sent == [] and leftovers(tmp_path) == []


def test_an_unknown_model_names_the_valid_ones(world, auth_header):
    _, client, _ = world()
    message = submit(client, auth_header, tweets_csv(3), query="?model=nope").get_json()["error"]["message"]
    assert "freqlr" in message and "nblr" in message


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/csv; charset=latin-1", ""])
def test_a_body_that_is_not_csv_or_ndjson_is_a_415(world, auth_header, content_type):
    _, client, queue = world()
    response = submit(client, auth_header, tweets_csv(3), content_type=content_type)
    assert error_of(response)[:2] == (415, "unsupported_upload")
    assert queue.sent == []


def test_without_a_token_nothing_is_read_or_stored(world, tmp_path):
    _, client, queue = world()
    response = submit(client, {}, tweets_csv(3))
    assert error_of(response)[:2] == (401, "unauthorized")
    assert queue.sent == [] and leftovers(tmp_path) == []


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_upload_over_the_size_limit_is_a_413(world, auth_header, tmp_path, framing):
    _, client, queue = world(JOBS_MAX_UPLOAD_BYTES=LIMIT)
    response = post(client, auth_header, sized(LIMIT + 1), framing)
    assert error_of(response)[:2] == (413, "upload_too_large")
    assert str(LIMIT) in response.get_json()["error"]["message"]
    assert queue.sent == [] and leftovers(tmp_path) == []


def test_a_declared_length_far_over_the_limit_is_refused_before_the_body_is_read(world, auth_header):
    _, client, _ = world(JOBS_MAX_UPLOAD_BYTES=LIMIT)
    headers = {**auth_header, "Content-Type": "text/csv"}
    declared = {"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": str(10 * LIMIT)}
    response = client.post("/api/v1/jobs", headers=headers, environ_overrides=declared)
    assert error_of(response)[:2] == (413, "upload_too_large")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_upload_of_exactly_the_limit_is_accepted(world, auth_header, framing):
    _, client, queue = world(JOBS_MAX_UPLOAD_BYTES=LIMIT)
    response = post(client, auth_header, sized(LIMIT), framing)
    assert response.status_code == 202, response.get_json()
    assert len(queue.sent) == 1


def test_an_upload_with_too_many_rows_is_a_413(world, auth_header, tmp_path):
    _, client, queue = world(JOBS_MAX_ROWS=25)
    assert submit(client, auth_header, tweets_csv(25)).status_code == 202
    response = submit(client, auth_header, tweets_csv(26))
    assert error_of(response)[:2] == (413, "too_many_rows")
    assert "25" in response.get_json()["error"]["message"]
    assert len(queue.sent) == 1 and len(leftovers(tmp_path)) == 1


def test_a_bad_file_is_a_400_naming_the_row_never_its_text(world, auth_header, tmp_path):
    _, client, queue = world()
    body = tweets_csv(12) + f"13 {MARK} has no comma\n" + tweets_csv(3, start=14)[len("id,text\n") :]
    response = submit(client, auth_header, body)
    assert error_of(response)[:2] == (400, "bad_upload")
    message = response.get_json()["error"]["message"]
    assert "row 13" in message and MARK not in message
    assert queue.sent == [] and leftovers(tmp_path) == []


def test_a_file_without_rows_is_a_400(world, auth_header):
    _, client, _ = world()
    assert error_of(submit(client, auth_header, "id,text\n"))[:2] == (400, "bad_upload")


def test_broken_chunked_framing_is_a_400(world, auth_header, tmp_path):
    _, client, queue = world()

    class Broken(io.RawIOBase):
        """A body whose server-side reader meets a bad chunk-size line after the first bytes."""

        def __init__(self):
            self.sent = False

        def readable(self):
            return True

        def readinto(self, buffer):
            if self.sent:
                raise InvalidChunkSize(b"zz")
            self.sent = True
            data = tweets_csv(3).encode()
            buffer[: len(data)] = data
            return len(data)

    headers = {**auth_header, "Content-Type": "text/csv"}
    response = client.post("/api/v1/jobs", headers=headers, environ_overrides=chunked(Broken()))
    assert error_of(response)[:2] == (400, "malformed_body")
    assert "zz" not in response.get_json()["error"]["message"]
    assert queue.sent == [] and leftovers(tmp_path) == []


def test_more_active_jobs_than_allowed_is_a_429_for_that_token_only(world, auth_header, tokens):
    _, client, queue = world(JOBS_MAX_ACTIVE=2)
    for _ in range(2):
        assert submit(client, auth_header, tweets_csv(3)).status_code == 202
    response = submit(client, auth_header, tweets_csv(3))
    assert error_of(response)[:2] == (429, "too_many_jobs")
    # The service's own wait (both jobs queued, no estimate), not flask-limiter's window reset.
    assert response.headers["Retry-After"] == "60"
    assert submit(client, bearer(tokens[0], "bob"), tweets_csv(3)).status_code == 202
    assert len(queue.sent) == 3


def test_a_cancelled_job_no_longer_counts_against_the_limit(world, auth_header):
    _, client, _ = world(JOBS_MAX_ACTIVE=1)
    first = submit(client, auth_header, tweets_csv(3)).get_json()["id"]
    assert submit(client, auth_header, tweets_csv(3)).status_code == 429
    assert client.delete(f"/api/v1/jobs/{first}", headers=auth_header).status_code == 200
    assert submit(client, auth_header, tweets_csv(3)).status_code == 202


def test_too_little_free_disk_is_a_507(world, auth_header, tmp_path):
    _, client, queue = world(JOBS_MIN_FREE_BYTES=10**18)
    response = submit(client, auth_header, tweets_csv(3))
    assert error_of(response)[:2] == (507, "insufficient_storage")
    assert queue.sent == [] and leftovers(tmp_path) == []


def test_a_broker_that_refuses_the_tasks_leaves_no_job(world, auth_header, tmp_path):
    _, client, queue = world()
    queue.refuse = True
    response = submit(client, auth_header, tweets_csv(3))
    assert error_of(response)[:2] == (503, "queue_unavailable")
    assert client.get("/api/v1/jobs", headers=auth_header).get_json() == {"jobs": []}
    assert leftovers(tmp_path) == []


def test_a_job_database_that_does_not_answer_is_a_503(world, auth_header, tmp_path):
    # A folder where the database file should be: SQLite cannot open it, as a server that is down.
    _, client, _ = world(JOBS_DATABASE_URL=f"sqlite:///{tmp_path}")
    response = client.get("/api/v1/jobs", headers=auth_header)
    assert error_of(response)[:2] == (503, "jobs_unavailable")
    assert error_of(submit(client, auth_header, tweets_csv(3)))[:2] == (503, "jobs_unavailable")


@pytest.mark.parametrize("path", ["nope", "0" * 31, "0" * 33, "ABCDEF" + "0" * 26])
@pytest.mark.parametrize("method", ["get", "delete"])
def test_an_id_that_is_not_a_job_id_is_a_404(world, auth_header, path, method):
    _, client, _ = world()
    response = getattr(client, method)(f"/api/v1/jobs/{path}", headers=auth_header)
    assert error_of(response)[:2] == (404, "job_not_found")
    result = client.get(f"/api/v1/jobs/{path}/result", headers=auth_header)
    assert error_of(result)[:2] == (404, "job_not_found")


def test_job_requests_spend_the_tokens_request_limit(world, auth_header):
    _, client, _ = world(RATE_LIMIT="3/minute")
    answers = [client.get("/api/v1/jobs", headers=auth_header) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    limited = submit(client, auth_header, tweets_csv(3))
    assert error_of(limited)[:2] == (429, "rate_limited") and "Retry-After" in limited.headers


def test_failed_authentications_on_the_job_routes_are_limited_by_address(world):
    _, client, _ = world(AUTH_FAILURE_LIMIT="2/minute")
    wrong = {"Authorization": "Bearer sa_wrong"}
    statuses = [client.get(f"/api/v1/jobs/{'0' * 32}", headers=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
