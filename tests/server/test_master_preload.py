"""The master's shared imports (api/server/preload.py) and its artifact check in a forked child."""

import os
import subprocess
import sys
import time

import pytest

from api.server import children
from tests.e2e import ROOT

PROBE = """
import gc, sys
from api.server import preload
preload.preload()
frozen = gc.get_freeze_count()
io = ("flask", "sqlalchemy", "celery", "kombu", "redis", "psycopg")
io_modules = sorted(m for m in io if m in sys.modules)
stack = [m for m in ("numpy", "scipy", "sklearn", "nltk", "model") if m in sys.modules]
preload.release()
print(frozen > 0, gc.get_freeze_count(), ",".join(stack), io_modules)
"""


def test_preload_imports_the_model_code_frozen_and_no_io_library_and_release_unfreezes():
    # Serving needs neither scikit-learn nor NLTK (model/serving/tfidf.py, porter.py): ~95 MiB unshared.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip().split(maxsplit=3) == ["True", "0", "numpy,scipy,model", "[]"]


def _sleeps(directory: str, model: str | None) -> str | None:
    """A check that never finishes in time."""
    time.sleep(30)
    return None


def _dies(directory: str, model: str | None) -> str | None:
    """A check whose process dies without answering."""
    os._exit(3)


def _raises(directory: str, model: str | None) -> str | None:
    """A check that fails on something other than the artifacts."""
    raise TypeError("bad " + directory)


def _passes(directory: str, model: str | None) -> str | None:
    """A check that finds nothing wrong."""
    return None


def _refuses(directory: str, model: str | None) -> str | None:
    """A check that finds the model missing."""
    return f"model {model!r} is not in {directory}"


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (_passes, None),
        (_refuses, "model 'm' is not in d"),
        (_raises, "TypeError: bad d"),
        (_dies, "the model artifact check exited 3 without an answer"),
    ],
)
def test_the_check_runs_in_a_forked_child_and_every_outcome_is_one_line(check, answer):
    assert children._in_child(check, "d", "m") == answer


def test_a_check_that_hangs_is_given_up_on(monkeypatch):
    monkeypatch.setattr(children, "ARTIFACT_CHECK_TIMEOUT", 0.5)
    assert children._in_child(_sleeps, "d", None) == "the model artifact check did not finish in 0.5 s"


TRIM_PROBE = """
from pathlib import Path
from api.server import preload

def rss_kib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4

blocks = [bytes(4000) for _ in range(20_000)]  # ~80 MB on the C heap, between the blocks kept
kept = blocks[::100]
del blocks
before = rss_kib()
preload.trim()
print(before - rss_kib())
"""


def test_trim_hands_the_freed_heap_back_to_the_kernel():
    # A worker calls it once its app and models are built (post_worker_init): their parse frees MiBs.
    result = subprocess.run(
        [sys.executable, "-c", TRIM_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert int(result.stdout) > 40_000  # KiB


APPS_PROBE = """
import gc, sys
from api.server import preload
before = "api.history.writer" in sys.modules, gc.get_freeze_count()
preload.preload_apps(["api.jobs.embedded:EmbeddedWorker", "api.history.writer:HistoryWriter"])
imported = "api.history.writer" in sys.modules, "api.jobs.embedded" in sys.modules
print(before, *imported, gc.get_freeze_count() > 0)
"""


def test_the_dirty_apps_modules_are_imported_before_the_arbiter_asks_and_frozen():
    # Gunicorn's dirty arbiter imports them in the master after on_starting: earlier, they delay no worker.
    result = subprocess.run(
        [sys.executable, "-c", APPS_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "(False, 0) True True True"
