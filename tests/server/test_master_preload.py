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
