"""An HTTP worker on the embedded broker imports neither Celery nor kombu until it sends a job's chunks."""

import json
import subprocess
import sys

from api.ops.tokens import create_token
from tests.e2e import ROOT

CLIENT_MODULES = ["celery", "kombu"]

# Run in a fresh interpreter: build the app as a worker does, answer /readyz and /metrics (which read the
# embedded broker's folder and count its queue), then submit a job, which sends its chunks.
PROBE = """
import json, sys
from api.settings import Settings
from api.web import create_app
from tests.web.jobs_helpers import tweets_csv
modules, tokens, folder, token = json.loads(sys.argv[1])
app = create_app(Settings(
    TOKENS_FILE=tokens, ARTIFACTS_DIR="artifacts", RATE_LIMIT="1000/minute", RATE_LIMIT_STORAGE="memory://",
    HISTORY_URL="none", JOBS_DIR=f"{folder}/jobs", JOBS_DATABASE_URL=f"sqlite:///{folder}/jobs.db",
), {"TESTING": True})
client = app.test_client()
headers = {"Authorization": f"Bearer {token}"}
ready = client.get("/readyz").json["jobs"]
served = [client.get("/metrics", headers=headers).status_code]
idle = [m for m in modules if m in sys.modules]
job = client.post("/api/v1/jobs", headers={**headers, "Content-Type": "text/csv"}, data=tweets_csv(5))
served.append(job.status_code)
sent = [m for m in modules if m in sys.modules]
print(json.dumps({"ready": ready, "served": served, "idle": idle, "sent": sent}))
"""


def test_the_app_imports_celery_only_to_send_a_job(tmp_path) -> None:
    tokens = tmp_path / "tokens.json"
    argument = json.dumps(
        [CLIENT_MODULES, str(tokens), str(tmp_path), create_token(tokens, "alice", admin=True)]
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, argument],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["ready"] == {"broker": "embedded", "ok": True, "error": None, "embedded": True}
    assert seen["served"] == [200, 202]
    assert seen["idle"] == []
    assert seen["sent"] == CLIENT_MODULES
    assert len(list((tmp_path / "jobs" / ".broker" / "queue").iterdir())) == 1  # the job's one chunk
