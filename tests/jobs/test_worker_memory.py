"""A jobs worker holds no model stack until a job needs a model: the embedded one idles by every server."""

import json
import subprocess
import sys

from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR

# The model stack: private memory in a process that imports it. Serving needs only numpy and SciPy's
# sparse matrices: scikit-learn and NLTK are for training (model/serving/tfidf.py, porter.py).
MODEL_STACK = ("numpy", "scipy", "sklearn", "nltk")
SERVING_STACK = ["numpy", "scipy"]
TWEETS = ["what a lovely day, thank you all", "worst service ever, never again"]

# Run in a fresh interpreter: imports the worker's entry point as ``python -m api.jobs.worker`` does,
# then loads a model the way a chunk does and scores with it.
PROBE = """
import json, sys
import api.jobs.worker
from api.jobs import runner
stack, directory, name, tweets = json.loads(sys.argv[1])
idle = [m for m in stack if m in sys.modules]
model, entry = runner.load_model(directory, name)
again, _ = runner.load_model(directory, name)
print(json.dumps({
    "idle": idle,
    "loaded": [m for m in stack if m in sys.modules],
    "cached": again is model,
    "version": entry.get("version"),
    "log_odds": model.log_odds(tweets),
}))
"""


def probe(name: str) -> dict[str, object]:
    """Return what a fresh worker interpreter imported before and after loading model ``name``."""
    argument = json.dumps([MODEL_STACK, str(DEFAULT_DIR), name, TWEETS])
    result = subprocess.run(
        [sys.executable, "-c", PROBE, argument], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout)


def test_an_idle_jobs_worker_imports_no_model_stack_and_a_job_loads_it_once() -> None:
    """Importing the worker leaves the model stack out; loading nblr brings numpy and SciPy, once."""
    seen = probe("nblr")
    assert seen["idle"] == []
    assert seen["loaded"] == SERVING_STACK
    assert seen["cached"] is True
    model, entry = artifacts.load(DEFAULT_DIR, "nblr")
    assert seen["version"] == entry.get("version")
    assert seen["log_odds"] == model.log_odds(TWEETS)
