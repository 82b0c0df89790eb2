"""Acceptance 5 of issue 16, on a running server: new artifacts swapped in under wrk's load without one
failed request, answers switching to the new version; tampered ones refused, counted, the old model
serving on; a worker that dies meanwhile replaced by one serving the last verified set. And SIGHUP:
Gunicorn's worker replacement, refused while the artifacts do not verify."""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from api.ops.tokens import create_token
from bench import wrk
from model.paths import PROJECT_ROOT
from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR
from tests.e2e import (
    BODY,
    log_records,
    request,
    running_server,
    wait_for_respawn,
    wait_until,
    wait_workers_loaded,
    worker_pids,
)
from tests.web.metrics_helpers import samples, value
from tests.web.reload_helpers import copy_artifacts, publish, stage, versions

pytestmark = pytest.mark.e2e

WORKERS = 2
# Seconds between two looks at the manifest: short, so the swap lands well inside the load.
POLL = "0.5"
LOAD_SECONDS = 10
SWAP_AT = 5
CONNECTIONS = 8
# Bounds on waits for a slow, shared machine: never speed requirements.
WAIT = 60

# Counts every answer's status and X-Model-Version, the versions in the order first seen and the last one,
# and writes them as JSON to WRK_REPORT when the run ends. One wrk thread (-t1): one order of answers.
LUA = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses, seen, order, last = {}, {}, {}, "" end
function response(status, headers, body)
  statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  local version = headers["X-Model-Version"] or "none"
  if seen[version] == nil then seen[version] = 0; order[#order + 1] = version end
  seen[version] = seen[version] + 1
  last = version
end
function done(summary, latency, requests)
  -- The counts live in the thread's own Lua state: copied out of it here.
  local statuses, order, last = threads[1]:get("statuses"), threads[1]:get("order"), threads[1]:get("last")
  local parts = {}
  for k, v in pairs(statuses) do parts[#parts + 1] = string.format("%q:%d", k, v) end
  local names = {}
  for i, v in ipairs(order) do names[i] = string.format("%q", v) end
  local file = assert(io.open(os.getenv("WRK_REPORT"), "w"))
  file:write(string.format('{"statuses":{%s},"order":[%s],"last":%q}',
    table.concat(parts, ","), table.concat(names, ","), last))
  file:close()
end
"""


@pytest.fixture(scope="module")
def wrk_binary():
    """Return wrk's path, installing Debian's package first if it is missing (as `make bench` does)."""
    if shutil.which("wrk") is None:
        subprocess.run(
            [PROJECT_ROOT / "scripts" / "debian-package.sh", "wrk", "wrk", "the reload test's HTTPS load"],
            check=True,
            timeout=600,
        )
    return shutil.which("wrk")


def load(server, binary, tmp, seconds, during):
    """Run wrk on predict for ``seconds`` while ``during()`` runs; return (wrk's figures, the Lua report)."""
    script, report = tmp / "count.lua", tmp / f"report-{time.monotonic_ns()}.json"
    script.write_text(LUA)
    env = {**os.environ, "WRK_TOKEN": server.token, "WRK_BODY": json.dumps(BODY), "WRK_REPORT": str(report)}
    command = [binary, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script)]
    with subprocess.Popen(
        [*command, f"{server.url}/api/v1/predict?model=freqlr"], stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        during()
        output, _ = process.communicate(timeout=seconds + WAIT)
    assert process.returncode == 0, output
    return wrk.parse(output), json.loads(report.read_text())


def reload_counts(server, admin):
    """Return the (ok, refused) reload counts of /metrics, summed over the workers."""
    headers = {"Authorization": f"Bearer {admin}"}
    scrape = urllib.request.Request(server.url + "/metrics", headers=headers)
    with urllib.request.urlopen(scrape, context=server.context, timeout=30) as response:
        scraped = samples(response.read().decode())
    return tuple(value(scraped, "sentiment_model_reloads_total", outcome=o) for o in ("ok", "refused"))


def served_version(server):
    """Return the X-Model-Version of one predict by freqlr."""
    status, headers, _ = request(
        f"{server.url}/api/v1/predict?model=freqlr", server.context, BODY, server.token
    )
    assert status == 200
    return headers["X-Model-Version"]


def test_new_artifacts_swap_in_under_load_and_tampered_ones_are_refused(tmp_path, wrk_binary):
    live = copy_artifacts(tmp_path / "artifacts")
    old = versions(live)["freqlr"]
    new = stage(live, tmp_path / "staging", folds=3)
    env = {"API_ARTIFACTS_DIR": str(live), "API_MODEL_RELOAD_SECONDS": POLL}
    with running_server(tmp_path, env=env, workers=WORKERS) as server:
        wait_workers_loaded(server, WORKERS)
        admin = create_token(server.tokens_file, "admin", admin=True)

        def swap():
            time.sleep(SWAP_AT)  # the swap lands in the middle of the load
            publish(tmp_path / "staging", live)

        figures, seen = load(server, wrk_binary, tmp_path, LOAD_SECONDS, swap)
        assert (figures["non_2xx"], figures["socket_errors"]) == (0, 0), figures
        assert set(seen["statuses"]) == {"200"}, seen
        assert (seen["order"], seen["last"]) == ([old, new], new), seen
        assert wait_until(lambda: reload_counts(server, admin) == (WORKERS, 0), "each worker's reload", WAIT)

        bad = stage(live, tmp_path / "tampered", folds=4, tamper=True)
        figures, seen = load(server, wrk_binary, tmp_path, 4, lambda: publish(tmp_path / "tampered", live))
        assert (figures["non_2xx"], figures["socket_errors"]) == (0, 0), figures
        assert (set(seen["statuses"]), seen["order"]) == ({"200"}, [new]), seen
        wait_until(lambda: reload_counts(server, admin)[1] == WORKERS, "each worker's refusal", WAIT)
        assert {served_version(server) for _ in range(10)} == {new} != {bad}
        # The same broken manifest is not tried again: a few more looks, no more refusals.
        time.sleep(4 * float(POLL))
        assert reload_counts(server, admin) == (WORKERS, WORKERS)
        refusals = [r for r in log_records(server.log()) if "model reload refused" in r["message"]]
        assert len(refusals) == WORKERS
        assert all(r["level"] == "ERROR" and "SHA-256" in r["message"] for r in refusals), refusals
        assert server.token not in server.log()


def test_sighup_is_refused_while_the_artifacts_fail_and_replaces_the_workers_once_they_verify(tmp_path):
    """Refused: the same workers and version serve on. Accepted: new workers, from the folder as it is."""
    live = copy_artifacts(tmp_path / "artifacts")
    old = versions(live)["freqlr"]
    # No folder watch: SIGHUP alone changes the models here.
    env = {"API_ARTIFACTS_DIR": str(live), "API_MODEL_RELOAD_SECONDS": "0"}
    with running_server(tmp_path, env=env, workers=WORKERS) as server:
        wait_workers_loaded(server, WORKERS)
        before = worker_pids(server)
        stage(live, tmp_path / "tampered", folds=4, tamper=True)
        publish(tmp_path / "tampered", live)
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP refused" in server.log(), "the master's refusal of SIGHUP", WAIT)
        assert server.process.poll() is None
        assert worker_pids(server) == before
        assert {served_version(server) for _ in range(6)} == {old}

        # The master's reload waits for old workers to go (graceful_timeout) before it reads signals again.
        # A good set, with one model more: SIGHUP starts workers from the folder, as a restart does.
        fixed = stage(DEFAULT_DIR, tmp_path / "fixed", folds=5)
        model, entry = artifacts.load(tmp_path / "fixed", "freqlr")
        artifacts.save(
            model,
            tmp_path / "fixed",
            name="extra",
            metrics=entry["metrics"],
            training_data=entry["training_data"],
        )
        publish(tmp_path / "fixed", live)
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: worker_pids(server).isdisjoint(before), "new workers in place of the old", WAIT)
        wait_until(lambda: served_version(server) == fixed, "the new workers' version", WAIT)
        assert server.process.poll() is None
        _, _, listed = request(server.url + "/api/v1/models", server.context, token=server.token)
        assert {m["name"] for m in listed["models"]} == set(versions(live)) == {"freqlr", "nblr", "extra"}


def test_a_worker_that_dies_while_the_artifacts_fail_is_replaced_by_one_serving_the_last_verified_set(
    tmp_path,
):
    live = copy_artifacts(tmp_path / "artifacts")
    old = versions(live)["freqlr"]
    env = {"API_ARTIFACTS_DIR": str(live), "API_MODEL_RELOAD_SECONDS": POLL}
    with running_server(tmp_path, env=env, workers=WORKERS) as server:
        wait_workers_loaded(server, WORKERS)
        admin = create_token(server.tokens_file, "admin", admin=True)
        stage(live, tmp_path / "tampered", folds=4, tamper=True)
        publish(tmp_path / "tampered", live)
        wait_until(lambda: reload_counts(server, admin)[1] == WORKERS, "each worker's refusal", WAIT)
        victim = sorted(worker_pids(server))[0]
        os.kill(victim, signal.SIGKILL)
        wait_for_respawn(server, victim, WORKERS, timeout=WAIT)
        wait_until(
            lambda: any("serves the last verified set" in r["message"] for r in log_records(server.log())),
            "the new worker's line",
            WAIT,
        )
        assert server.process.poll() is None
        # New connections, spread over both workers by the fair balance: every one answers the old version.
        assert {served_version(server) for _ in range(20)} == {old}
