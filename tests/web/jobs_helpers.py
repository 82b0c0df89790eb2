"""The job API's tests' tools: a queue that only records, an app with jobs of its own, a job finished here.

The blueprint is tested with Flask's test client and no worker: the fake queue records what would
be sent, and ``finish`` does in this process what a worker does (api/jobs/runner.py) to a job's
chunks, so that the result route has a result to send.
"""

from api.errors import APIError
from api.jobs.errors import QueueUnavailable
from api.ops.tokens import create_token
from api.web import jobs
from model.scoring.output import format_rows, header
from model.serving import artifacts

# In every uploaded tweet, so that a test can tell none reached a log line or an error message.
MARK = "zebraquartz"


def tweets_csv(rows, start=1):
    """Return a CSV of ``rows`` tweets (id, text), ids from ``start``."""
    return "id,text\n" + "".join(f"{i},{MARK} tweet {i} is lovely\n" for i in range(start, start + rows))


def tweets_ndjson(rows):
    """Return NDJSON of ``rows`` tweets."""
    return "".join(f'{{"id": "{i}", "text": "{MARK} tweet {i} is awful"}}\n' for i in range(1, rows + 1))


class FakeQueue:
    """Records the jobs it is sent; says what a test tells it about the broker."""

    def __init__(self):
        self.sent = []
        self.state = {"broker": "embedded", "ok": True, "error": None}
        self.waiting = 0
        self.refuse = False

    def enqueue(self, job_id, chunks):
        """Record (job id, chunks), or refuse as a broker that is down."""
        if self.refuse:
            raise QueueUnavailable("the job queue (amqp) does not answer; retry later")
        self.sent.append((job_id, chunks))

    def broker_state(self):
        """Return the state the test set."""
        return dict(self.state)

    def depth(self):
        """Return the depth the test set."""
        return self.waiting


def jobs_app(make_app, tmp_path, monkeypatch, **overrides):
    """Return (app, fake queue): jobs in tmp_path, chunks of 10 rows, no disk guard unless overridden."""
    queue = FakeQueue()
    monkeypatch.setattr(jobs, "make_queue", lambda settings: queue)
    fields = {
        "JOBS_DIR": tmp_path / "jobs",
        "JOBS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "JOBS_MIN_FREE_BYTES": 0,
        "JOBS_CHUNK_ROWS": 10,
        **overrides,
    }
    return make_app(**fields), queue


def bearer(tokens_file, name, admin=False):
    """Create another token in the app's tokens file; return its Authorization header."""
    return {"Authorization": f"Bearer {create_token(tokens_file, name, admin=admin)}"}


def submit(client, headers, body, content_type="text/csv", query=""):
    """POST ``body`` as a job; return the response."""
    return client.post(f"/api/v1/jobs{query}", data=body, headers={**headers, "Content-Type": content_type})


def finish(app, job_id):
    """Score every chunk of the job as a worker would, assemble its result, and mark it succeeded."""
    service = jobs.JOBS.of(app).service
    store, files = service.store, service.files
    job = store.get(job_id)
    model, _ = artifacts.load(app.extensions["sentiment_settings"].ARTIFACTS_DIR, job.model)
    store.start(job_id)
    for index in range(job.chunks_total):
        ids, texts = files.read_chunk_input(job_id, index)
        files.write_chunk_output(
            job_id, index, format_rows(job.output_format, job.detail, ids, model.log_odds(texts))
        )
        store.chunk_done(job_id, index, len(ids))
    files.assemble(job_id, job.chunks_total, header(job.output_format, job.detail))
    assert store.finish(job_id, "succeeded")
    return files.result(job_id)


def error_of(response):
    """Return (status, code, key) of a JSON error response."""
    error = response.get_json()["error"]
    assert error["status"] == response.status_code
    return response.status_code, error["code"], error.get("key")


def codes_of(*errors: type[APIError]):
    """Return the (status, code) of our errors' classes."""
    return [(error.status, error.code) for error in errors]
