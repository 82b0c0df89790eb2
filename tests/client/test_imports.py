"""The client imports nothing of the server: a program talks to the API with urllib3 and the standard
library alone (the import-linter contract of `make lint` states it for direct imports too)."""

import json
import subprocess
import sys

from tests.e2e import ROOT

# Top-level packages of the project and the server's libraries: none may be loaded by the client.
SERVER = ("model", "flask", "werkzeug", "pydantic", "sqlalchemy", "celery", "sklearn", "numpy", "gunicorn")
SHOW_MODULES = "import sys, json, api.client; print(json.dumps(sorted(sys.modules)))"


def test_importing_the_client_loads_nothing_of_the_server():
    done = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    ours = {name for name in loaded if name.startswith("api.")}
    assert ours and all(name.startswith("api.client") for name in ours), sorted(ours)
    assert [name for name in loaded if name.split(".")[0] in SERVER] == []
    assert "urllib3" in loaded
