"""An HTTP worker imports no Alembic: only what writes the history (its writer, a test app's queue) checks
the schema's revision and migrates."""

import json
import subprocess
import sys

from api.history.store import upgrade
from api.ops.tokens import create_token

# Alembic and the template engine it brings: ~10 MiB and ~0.4 s of every process that imports them.
MIGRATION_MODULES = ("alembic", "mako")

# Run in a fresh interpreter: build the app as a worker does (the database migrated, as the server's
# start-up does) and serve reads; then predict, which writes the history (in this process's queue
# thread here; in the history writer under Gunicorn), and read it back.
PROBE = """
import json, sys
from api import constants as c
from api.settings import Settings
from api.web import create_app
modules, tokens, folder, token = json.loads(sys.argv[1])
app = create_app(Settings(
    TOKENS_FILE=tokens, ARTIFACTS_DIR="artifacts", RATE_LIMIT="1000/minute", RATE_LIMIT_STORAGE="memory://",
    HISTORY_URL=f"sqlite:///{folder}/history.db", JOBS_DIR=f"{folder}/jobs",
    JOBS_DATABASE_URL=f"sqlite:///{folder}/jobs.db",
), {"TESTING": True})
client = app.test_client()
headers = {"Authorization": f"Bearer {token}"}
served = [client.get(path, headers=headers).status_code for path in ("/readyz", "/api/v1/predictions")]
serving = [m for m in modules if m in sys.modules]
served.append(client.post("/api/v1/predict", json={"t1": "a lovely day"}, headers=headers).status_code)
app.extensions[c.EXT_HISTORY].flush()
listed = client.get("/api/v1/predictions", headers=headers).json["predictions"]
print(json.dumps({
    "served": served, "serving": serving,
    "written": [m for m in modules if m in sys.modules], "listed": [row["id"] for row in listed],
}))
"""


def test_a_worker_serving_requests_imports_no_alembic_and_the_first_write_checks_the_schema(tmp_path) -> None:
    """Predict and history reads leave Alembic out; the first write checks the revision and stores its row."""
    upgrade(f"sqlite:///{tmp_path}/history.db")
    tokens = tmp_path / "tokens.json"
    argument = json.dumps([MIGRATION_MODULES, str(tokens), str(tmp_path), create_token(tokens, "alice")])
    result = subprocess.run(
        [sys.executable, "-c", PROBE, argument], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["served"] == [200, 200, 200]
    assert seen["serving"] == []
    assert seen["written"] == list(MIGRATION_MODULES)
    assert seen["listed"] == ["t1"]
