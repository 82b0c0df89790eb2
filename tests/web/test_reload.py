"""Reloading the models without a restart, in one app: the watch of the manifest, the swap of a verified
set, the refusal of one that fails (counted once per manifest, logged, the old set serving on), and
the load beside gevent's event loop. Under load, through Gunicorn: tests/server/test_reload_live.py."""

import logging
import subprocess
import sys
import time

import pytest

from api.ops.tokens import create_token
from api.web.reload import OK, REFUSED, WATCH
from model.errors import ArtifactError
from model.serving.artifacts import DEFAULT_DIR
from tests.web.metrics_helpers import samples, value
from tests.web.reload_helpers import copy_artifacts, publish, rewrite_manifest, stage, versions

PREDICT = "/api/v1/predict"
TWEETS = {"a": "what a lovely day :)", "b": "I hate mondays"}
# The watch thread's test: a short interval, and a bound on the wait for it (never a speed requirement).
INTERVAL = 0.05
DEADLINE = 30


@pytest.fixture
def live(tmp_path):
    """A copy of the committed artifacts that the test may change."""
    return copy_artifacts(tmp_path / "artifacts")


@pytest.fixture
def admin_header(tokens):
    """The Authorization header of an admin token (for /metrics)."""
    return {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"}


def served(app, auth_header, model="freqlr"):
    """Return the (X-Model-Version of a predict by ``model``, its version in /api/v1/models, /readyz's)."""
    client = app.test_client()
    answer = client.post(f"{PREDICT}?model={model}", json=TWEETS, headers=auth_header)
    assert answer.status_code == 200
    listed = {
        m["name"]: m["version"] for m in client.get("/api/v1/models", headers=auth_header).json["models"]
    }
    return answer.headers["X-Model-Version"], listed[model], client.get("/readyz").json["versions"][model]


def reloads(app, admin_header):
    """Return the (ok, refused) reload counts of /metrics."""
    scraped = samples(app.test_client().get("/metrics", headers=admin_header).get_data(as_text=True))
    return tuple(value(scraped, "sentiment_model_reloads_total", outcome=o) for o in (OK, REFUSED))


def test_an_unchanged_manifest_is_not_loaded_again(make_app, live, admin_header):
    app = make_app(ARTIFACTS_DIR=live)
    assert WATCH.of(app).poll() is None
    assert reloads(app, admin_header) == (0, 0)


def test_a_new_version_is_swapped_in_and_shown_everywhere(
    make_app, live, auth_header, admin_header, tmp_path
):
    app = make_app(ARTIFACTS_DIR=live)
    old = versions(live)["freqlr"]
    assert served(app, auth_header) == (old, old, old)
    new = stage(live, tmp_path / "staging", folds=3)
    publish(tmp_path / "staging", live)

    assert WATCH.of(app).poll() == OK
    assert served(app, auth_header) == (new, new, new) != (old, old, old)
    assert reloads(app, admin_header) == (1, 0)
    scraped = samples(app.test_client().get("/metrics", headers=admin_header).get_data(as_text=True))
    info = "sentiment_model_info"
    assert value(scraped, info, model="freqlr", version=new, default="true") == 1
    assert value(scraped, info, model="freqlr", version=old, default="true") == 0


def test_tampered_artifacts_are_refused_once_logged_and_counted(
    make_app, live, auth_header, admin_header, tmp_path, caplog
):
    app = make_app(ARTIFACTS_DIR=live)
    old = versions(live)["freqlr"]
    stage(live, tmp_path / "staging", folds=4, tamper=True)
    publish(tmp_path / "staging", live)
    watch = WATCH.of(app)

    with caplog.at_level(logging.ERROR, logger="api.web.reload"):
        assert watch.poll() == REFUSED
    assert served(app, auth_header) == (old, old, old)
    assert reloads(app, admin_header) == (0, 1)
    (record,) = [r for r in caplog.records if r.name == "api.web.reload"]
    assert "refused" in record.getMessage()
    assert "freqlr.json fails its SHA-256 check" in record.getMessage()
    assert f"freqlr {old}" in record.getMessage()  # what keeps serving
    # The same broken manifest is not tried again: only a new one is.
    assert [watch.poll() for _ in range(3)] == [None, None, None]
    assert reloads(app, admin_header) == (0, 1)
    fixed = stage(DEFAULT_DIR, tmp_path / "fixed", folds=5)  # the live folder now holds the bad file
    publish(tmp_path / "fixed", live)
    assert watch.poll() == OK
    assert served(app, auth_header)[0] == fixed


def test_a_missing_manifest_is_refused_and_the_models_serve_on(make_app, live, auth_header, admin_header):
    app = make_app(ARTIFACTS_DIR=live)
    old = versions(live)["freqlr"]
    (live / "manifest.json").unlink()
    assert WATCH.of(app).poll() == REFUSED
    assert served(app, auth_header) == (old, old, old)
    assert reloads(app, admin_header) == (0, 1)


def test_a_set_that_adds_or_removes_a_model_is_refused(make_app, live, auth_header, admin_header):
    app = make_app(ARTIFACTS_DIR=live)
    rewrite_manifest(live, lambda manifest: manifest["models"].pop("nblr"))
    assert WATCH.of(app).poll() == REFUSED
    assert (
        app.test_client().post(f"{PREDICT}?model=nblr", json=TWEETS, headers=auth_header).status_code == 200
    )
    assert reloads(app, admin_header) == (0, 1)


def test_the_manifests_new_default_answers_without_model(make_app, live, auth_header):
    app = make_app(ARTIFACTS_DIR=live)
    client = app.test_client()
    assert client.post(PREDICT, json=TWEETS, headers=auth_header).headers["X-Model"] == "freqlr"
    rewrite_manifest(live, lambda manifest: manifest.update(default_model="nblr"))
    assert WATCH.of(app).poll() == OK
    assert client.post(PREDICT, json=TWEETS, headers=auth_header).headers["X-Model"] == "nblr"
    assert client.get("/readyz").json["model"] == "nblr"


def test_the_operators_model_stays_the_default_across_reloads(make_app, live, auth_header):
    app = make_app(ARTIFACTS_DIR=live, MODEL="nblr")
    rewrite_manifest(live, lambda manifest: manifest.update(created="2030-01-01T00:00:00+00:00"))
    assert WATCH.of(app).poll() == OK
    assert app.test_client().post(PREDICT, json=TWEETS, headers=auth_header).headers["X-Model"] == "nblr"


def test_the_watch_thread_polls_by_itself_and_zero_seconds_turns_it_off(
    make_app, live, auth_header, tmp_path
):
    assert WATCH.of(make_app(ARTIFACTS_DIR=live, MODEL_RELOAD_SECONDS=0)).start() is False
    app = make_app(ARTIFACTS_DIR=live, MODEL_RELOAD_SECONDS=INTERVAL)
    watch = WATCH.of(app)
    assert watch.start() is True
    assert watch.start() is False  # once
    new = stage(live, tmp_path / "staging", folds=3)
    publish(tmp_path / "staging", live)
    deadline = time.monotonic() + DEADLINE
    while served(app, auth_header)[0] != new:
        assert time.monotonic() < deadline, "the watch never swapped the new version in"
        time.sleep(INTERVAL)  # polling loop with a deadline


# Under gevent, a greenlet that ticks while a second of pure-Python CPU work runs: beside_the_loop (an OS
# thread of gevent's pool) lets it tick, the same work in a greenlet does not. Prints the two tick counts,
# and whether a refused set's error came back to the caller.
GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import gevent
from api.web.reload import beside_the_loop
from model.errors import ArtifactError

def work():
    total = 0
    for i in range(3_000_000):
        total += i
    return total

def ticks(run):
    count = [0]
    def tick():
        while True:
            count[0] += 1
            gevent.sleep(0.001)
    ticker = gevent.spawn(tick)
    gevent.sleep(0.01)
    before = count[0]
    assert run(work) == sum(range(3_000_000))
    during = count[0] - before
    ticker.kill()
    return during

def broken():
    raise ArtifactError("the hash differs")

try:
    beside_the_loop(broken)
except ArtifactError as exc:
    raised = str(exc)
print(ticks(beside_the_loop), ticks(lambda w: w()), raised == "the hash differs")
"""


def test_a_load_beside_gevents_loop_lets_other_greenlets_run():
    result = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    beside, inline, raised = result.stdout.split()
    assert int(inline) == 0  # the control: work in the loop's own thread stops every greenlet
    assert int(beside) > 0
    # A refused set's error reaches the caller, and gevent prints no traceback of it.
    assert raised == "True"
    assert "Traceback" not in result.stderr


def test_metrics_start_with_both_reload_outcomes_at_zero(make_app, admin_header):
    scraped = samples(make_app().test_client().get("/metrics", headers=admin_header).get_data(as_text=True))
    for outcome in (OK, REFUSED):
        assert ("sentiment_model_reloads_total", frozenset({("outcome", outcome)})) in scraped


def test_a_worker_that_starts_while_the_folder_fails_serves_the_last_verified_set(
    make_app, live, auth_header, tmp_path, caplog
):
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o700)
    first = make_app(ARTIFACTS_DIR=live, VERIFIED_MODELS_DIR=kept)
    assert versions(kept / "current") == versions(live)
    new = stage(live, tmp_path / "staging", folds=3)
    publish(tmp_path / "staging", live)
    assert WATCH.of(first).poll() == OK
    assert versions(kept / "current")["freqlr"] == new  # the swapped-in set is kept too
    stage(live, tmp_path / "tampered", folds=4, tamper=True)
    publish(tmp_path / "tampered", live)
    assert WATCH.of(first).poll() == REFUSED
    assert versions(kept / "current")["freqlr"] == new  # a refused set never is

    with caplog.at_level(logging.ERROR, logger="api.web.verified"):
        second = make_app(ARTIFACTS_DIR=live, VERIFIED_MODELS_DIR=kept)  # a worker replacing one that died
    assert served(second, auth_header) == (new, new, new)
    (record,) = [r for r in caplog.records if r.name == "api.web.verified"]
    assert "fails its SHA-256 check" in record.getMessage()
    assert "serves the last verified set" in record.getMessage()
    # The refused manifest is not tried again by the new worker either.
    assert WATCH.of(second).poll() is None
    # Without a kept set (a server's first workers), a folder that fails stops the start.
    with pytest.raises(ArtifactError, match="SHA-256"):
        make_app(ARTIFACTS_DIR=live)


def test_a_worker_that_starts_on_a_set_of_other_models_serves_the_kept_one(
    make_app, live, auth_header, tmp_path
):
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o700)
    first = make_app(ARTIFACTS_DIR=live, VERIFIED_MODELS_DIR=kept)
    rewrite_manifest(live, lambda manifest: manifest["models"].pop("nblr"))  # verifies, but one model less
    assert WATCH.of(first).poll() == REFUSED
    second = make_app(ARTIFACTS_DIR=live, VERIFIED_MODELS_DIR=kept)
    nblr = versions(kept / "current")["nblr"]
    assert served(second, auth_header, model="nblr") == (nblr, nblr, nblr)
