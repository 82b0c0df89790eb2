"""The job service: a submission checked, stored and queued; a token sees its own jobs; cancel, result."""

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api.errors import InvalidParameter
from api.jobs.errors import JobNotFinished, JobNotFound, QueueUnavailable, TooManyJobs, UnsupportedUpload
from api.jobs.service import JobService, SubmitParams, upload_format
from model.serving import artifacts

CSV = b"id,text\n" + b"".join(b"r%d,tweet number %d\n" % (n, n) for n in range(25))


class Sent(list):
    """An enqueue that records what it was sent."""

    def __call__(self, job_id, chunks):
        self.append((job_id, chunks))


class Untouched(io.BytesIO):
    """A body that fails the test if it is read."""

    def read(self, size=-1, /):
        raise AssertionError("the body was read although the submission was refused first")


@pytest.fixture
def sent():
    return Sent()


@pytest.fixture
def service(job_settings, job_store, job_files, sent):
    return JobService(job_settings, job_store, job_files, sent)


def _submit(service, body=CSV, owner="alice", content_type="text/csv", stream=None, **params):
    stream = stream or io.BytesIO(body)
    return service.submit(owner, f"token:{owner}", stream, content_type, len(body), SubmitParams(**params))


def test_a_submission_is_stored_and_queued_with_the_default_model(service, sent, job_files):
    job = _submit(service)
    manifest = artifacts.read_manifest(service.settings.ARTIFACTS_DIR)
    default = artifacts.default_name(manifest)
    assert (job.state, job.owner, job.budget_key) == ("queued", "alice", "token:alice")
    assert (job.model, job.model_version) == (default, manifest["models"][default]["version"])
    assert (job.rows_total, job.chunks_total, job.input_format, job.output_format) == (25, 3, "csv", "csv")
    assert job.expires - job.created == service.retention.period
    assert service.store.get(job.id) == job
    assert sent == [(job.id, 3)]
    assert job_files.read_chunk_input(job.id, 2)[0] == ["r20", "r21", "r22", "r23", "r24"]


def test_the_options_are_kept_on_the_job(service):
    body = b'{"k": "a", "t": "good"}\n'
    options = {"model": "nblr", "detail": False, "text_column": "t", "id_column": "k", "format": "csv"}
    job = _submit(service, body, content_type="application/jsonl", **options)
    assert (job.model, job.detail, job.text_column, job.id_column) == ("nblr", False, "t", "k")
    assert (job.input_format, job.output_format) == ("ndjson", "csv")


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("text/csv", "csv"),
        ("Text/CSV; charset=UTF-8", "csv"),
        ('text/csv; header=present; charset="utf-8"', "csv"),
        ("application/x-ndjson", "ndjson"),
        ("application/jsonl;charset=utf8", "ndjson"),
    ],
)
def test_the_content_type_names_the_upload_format(content_type, fmt):
    assert upload_format(content_type) == fmt


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "text/csv; charset=latin-1",
    ],
)
def test_another_content_type_is_415_before_the_body_is_read(service, content_type):
    with pytest.raises(UnsupportedUpload) as raised:
        _submit(service, content_type=content_type, stream=Untouched())
    assert (raised.value.status, raised.value.code) == (415, "unsupported_upload")
    assert "text/csv" in raised.value.message and "application/x-ndjson" in raised.value.message


@pytest.mark.parametrize(
    ("params", "key", "says"),
    [
        ({"model": "nope"}, "model", "valid: freqlr, nblr"),
        ({"model": "all"}, "model", "valid: freqlr, nblr"),
        ({"format": "parquet"}, "format", "csv, ndjson"),
        ({"text_column": ""}, "text_column", "1 to 256"),
        ({"id_column": "x" * 257}, "id_column", "1 to 256"),
    ],
)
def test_an_invalid_option_is_400_naming_it_before_the_body_is_read(service, params, key, says):
    with pytest.raises(InvalidParameter) as raised:
        _submit(service, stream=Untouched(), **params)
    assert (raised.value.status, raised.value.key) == (400, key)
    assert says in raised.value.message


def test_the_active_jobs_limit_counts_only_the_owners_active_jobs(service, job_settings):
    assert job_settings.JOBS_MAX_ACTIVE == 2
    first, second = _submit(service), _submit(service)
    _submit(service, owner="bob")  # another token's job is not alice's
    with pytest.raises(TooManyJobs) as raised:
        _submit(service, stream=Untouched())
    assert (raised.value.status, raised.value.code) == (429, "too_many_jobs")
    service.store.finish(first.id, "succeeded")
    service.store.cancel(second.id)
    assert _submit(service).state == "queued"  # finished jobs free their places


def test_too_many_jobs_says_when_the_soonest_active_job_should_end(service, monkeypatch):
    first, second = _submit(service), _submit(service)
    with pytest.raises(TooManyJobs) as raised:
        _submit(service, stream=Untouched())
    # Both queued, no estimate yet: the longest wait.
    assert raised.value.headers == {"Retry-After": "60"}
    # The first started 100 s ago and scored 20 of its 25 rows: 5 left at 0.2 rows/s, about 25 s.
    monkeypatch.setattr("api.jobs.store._now", lambda: datetime.now(UTC) - timedelta(seconds=100))
    service.store.start(first.id)
    service.store.chunk_done(first.id, 0, 20)
    with pytest.raises(TooManyJobs) as raised:
        _submit(service, stream=Untouched())
    assert raised.value.headers["Retry-After"] in {"25", "26"}
    assert "about 2" in raised.value.message
    # A job nearly done asks for at least a second, never zero.
    service.store.start(second.id)
    service.store.chunk_done(second.id, 0, 25)
    with pytest.raises(TooManyJobs) as raised:
        _submit(service, stream=Untouched())
    assert raised.value.headers == {"Retry-After": "1"}


def test_jobs_accepted_during_an_upload_count_when_it_ends(service, make_job, sent):
    class Racing(io.BytesIO):
        """A body during whose upload two other jobs of the same token are accepted."""

        def read(self, size=-1, /):
            if not service.store.count_active("alice"):
                for _ in range(2):
                    service.store.create(make_job())
            return super().read(size)

    with pytest.raises(TooManyJobs):
        _submit(service, stream=Racing(CSV))
    assert len(service.store.list("alice")) == 2 and sent == []
    assert service.files.job_ids() == []


def test_a_queue_that_refuses_leaves_neither_record_nor_files(job_settings, job_store, job_files):
    def refusing(job_id, chunks):
        raise QueueUnavailable("the job queue does not answer")

    service = JobService(job_settings, job_store, job_files, refusing)
    with pytest.raises(QueueUnavailable):
        _submit(service)
    assert (job_store.list(None), job_files.job_ids()) == ([], [])


def test_another_tokens_job_is_not_found_and_an_admin_sees_every_job(service):
    job = _submit(service)
    bobs = _submit(service, owner="bob")
    assert service.get(job.id, "alice", admin=False) == job
    for job_id in (job.id, "0" * 32, "../../etc", ""):
        with pytest.raises(JobNotFound) as raised:
            service.get(job_id, "bob", admin=False)
        assert (raised.value.status, raised.value.message) == (404, "no such job")
    assert service.get(job.id, "root", admin=True) == job
    assert [j.id for j in service.list("alice", admin=False)] == [job.id]
    assert {j.id for j in service.list("root", admin=True)} == {job.id, bobs.id}
    with pytest.raises(JobNotFound):
        service.cancel_or_delete(job.id, "bob", admin=False)
    with pytest.raises(JobNotFound):
        service.result(job.id, "bob", admin=False)
    assert service.store.get(job.id) == job


def test_delete_cancels_an_active_job_and_keeps_it(service):
    job = _submit(service)
    cancelled = service.cancel_or_delete(job.id, "alice", admin=False)
    assert (cancelled.id, cancelled.state, cancelled.finished is not None) == (job.id, "cancelled", True)
    assert service.store.get(job.id) == cancelled
    assert service.files.folder(job.id).exists()


def test_delete_of_a_finished_job_removes_its_record_and_files(service):
    job = _submit(service)
    service.store.finish(job.id, "failed", error="rows 1-10: broken")
    assert service.cancel_or_delete(job.id, "alice", admin=False) is None
    assert service.store.get(job.id) is None
    assert not service.files.folder(job.id).exists()
    with pytest.raises(JobNotFound):
        service.cancel_or_delete(job.id, "alice", admin=False)


def test_the_result_is_409_until_the_job_succeeded(service):
    job = _submit(service, format="ndjson")
    for state in ("queued", "running"):
        with pytest.raises(JobNotFinished) as raised:
            service.result(job.id, "alice", admin=False)
        assert (raised.value.status, raised.value.code) == (409, "job_not_finished")
        assert state in raised.value.message
        service.store.start(job.id)
    for index in range(3):
        service.files.write_chunk_output(job.id, index, f'{{"id":"{index}"}}\n')
    service.files.assemble(job.id, 3, "")
    service.store.finish(job.id, "succeeded")
    path, media_type, name = service.result(job.id, "alice", admin=False)
    assert path.read_text() == '{"id":"0"}\n{"id":"1"}\n{"id":"2"}\n'
    assert (media_type, name) == ("application/x-ndjson", f"scores-{job.id}.ndjson")
    path.unlink()  # deleted under the service: the job is gone, not a 500
    with pytest.raises(JobNotFound):
        service.result(job.id, "alice", admin=False)


def test_a_cancelled_job_has_no_result(service):
    job = _submit(service)
    service.cancel_or_delete(job.id, "alice", admin=False)
    with pytest.raises(JobNotFinished, match="cancelled"):
        service.result(job.id, "alice", admin=False)


def test_from_settings_uses_the_settings_store_and_folder(job_settings, sent):
    service = JobService.from_settings(job_settings, sent)
    try:
        job = _submit(service)
        assert service.files.root == job_settings.JOBS_DIR
        assert service.store.url == job_settings.jobs_database_url
        assert (job_settings.JOBS_DIR / job.id).is_dir()
    finally:
        service.store.dispose()


def test_a_jobs_json_shows_progress_rate_and_time_left(make_job):
    start = datetime(2026, 5, 1, 10, tzinfo=UTC)
    queued = make_job(created=start, rows_total=1000)
    assert (queued.rows_per_second(start), queued.seconds_left(start)) == (None, None)
    running = replace(queued, state="running", started=start, rows_done=250, chunks_done=1)
    now = start + timedelta(seconds=10)
    assert (running.rows_per_second(now), running.seconds_left(now)) == (25.0, 30.0)
    body = running.to_json(now)
    assert body == {
        "id": running.id,
        "state": "running",
        "model": "freqlr",
        "model_version": "v1",
        "format": "csv",
        "detail": True,
        "rows": {"done": 250, "total": 1000},
        "rows_per_second": 25.0,
        "seconds_left": 30.0,
        "created": "2026-05-01T10:00:00Z",
        "started": "2026-05-01T10:00:00Z",
        "finished": None,
        "expires": "2026-05-02T10:00:00Z",
        "errors": [],
        "result": None,
    }
    done = replace(running, state="succeeded", rows_done=1000, finished=start + timedelta(seconds=20))
    later = start + timedelta(hours=1)
    # The rate of a finished job is its own, not diluted by the time since.
    assert (done.rows_per_second(later), done.seconds_left(later)) == (50.0, 0.0)
    assert done.to_json(later)["result"] == f"/api/v1/jobs/{done.id}/result"
    stopped = replace(running, state="cancelled", finished=now)
    assert (stopped.seconds_left(later), stopped.to_json(later)["result"]) == (None, None)
