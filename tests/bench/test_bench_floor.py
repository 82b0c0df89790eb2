"""The bench's framework floor: the bare reference's set-up, medians, ratios, bars, tables and PSS rows."""

import os
import runpy
import subprocess
import sys

import pytest

from bench import bare, floor, memory
from tests.e2e import ROOT


def _run(side, rps, round_=0, errors=0):
    """One wrk run as bench.floor.measure records it."""
    return {"side": side, "round": round_, "requests_per_s": rps, "non_2xx": errors, "socket_errors": 0}


def _floor(runs):
    """A floor result as bench.floor.measure returns it."""
    return {"connections": 8, "rounds": 3, "seconds": 5, "runs": runs, **floor.summary(runs)}


def test_each_side_is_the_median_of_its_rounds_and_ours_are_over_the_bare_app():
    runs = [
        _run("bare", 4000.0, 0),
        _run("bare", 1000.0, 1),  # one slow round moves the median little
        _run("bare", 4200.0, 2),
        _run("noop", 3000.0, 0),
        _run("noop", 3100.0, 1),
        _run("noop", 2900.0, 2),
        _run("predict_1", 2600.0, 0),
        _run("predict_1", 2500.0, 1),
        _run("predict_1", 2700.0, 2, errors=2),
    ]
    result = floor.summary(runs)
    assert result["rps"] == {"bare": 4000.0, "noop": 3000.0, "predict_1": 2600.0}
    assert result["over_bare"] == {"noop": 0.75, "predict_1": 0.65}
    assert result["meets"] == {"noop": True, "predict_1": True}  # the bars are met at exactly 0.75 and 0.65
    assert result["errors"] == 2


def test_below_a_bar_is_not_met_and_the_table_says_so():
    result = _floor([_run("bare", 4000.0), _run("noop", 2996.0), _run("predict_1", 2604.0)])
    assert result["meets"] == {"noop": False, "predict_1": True}
    text = floor.table(result)
    assert "| noop | 2,996 | 2,996 | 0.75x | 0.75x (NOT met) |" in text
    assert "| predict_1 | 2,604 | 2,604 | 0.65x | 0.65x (met) |" in text
    assert "| bare | 4,000 | 4,000 | 1.00x |  |" in text


def test_the_memory_table_adds_every_process_and_checks_both_bars():
    rows = [
        {"pid": 10, "role": "master", "pss_mib": 40.0},
        {"pid": 11, "role": "worker", "pss_mib": 130.0},
        {"pid": 12, "role": "worker", "pss_mib": 131.0},
    ]
    text = floor.startup_memory_table({"startup_s": 3.5, "pss_after_warmup": rows, "pss_total_mib": 301.0})
    assert "Start to /readyz: 3.50 s (bar 3 s: NOT met)" in text
    assert "| worker | 12 | 131.0 |" in text
    assert "| all 3 processes | | 301.0 |" in text
    assert text.endswith("bar 300 MiB: NOT met")
    met = floor.startup_memory_table({"startup_s": 3.0, "pss_after_warmup": rows, "pss_total_mib": 300.0})
    assert "(bar 3 s: met)" in met
    assert met.endswith("bar 300 MiB: met")


def test_the_pss_rows_name_each_process_by_role_or_command():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        rows = memory.server_pss(os.getpid(), {os.getpid(): "master"})
    finally:
        child.kill()
        child.wait()
    by_pid = {row["pid"]: row for row in rows}
    assert by_pid[os.getpid()]["role"] == "master"
    assert by_pid[child.pid]["role"].startswith(sys.executable)
    assert all(row["pss_mib"] > 0 for row in rows)


def test_the_bare_app_answers_its_small_json():
    response = bare.app.test_client().get("/")
    assert (response.status_code, response.get_json()) == (200, bare.ANSWER)


def test_the_bare_reference_runs_on_the_servers_own_gunicorn_settings():
    server = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    reference = runpy.run_path(str(ROOT / "bench" / "bare_conf.py"))
    for name in ("worker_class", "workers", "worker_connections", "keepalive", "certfile", "keyfile"):
        assert reference[name] == server[name], name
    assert reference["ssl_context"] is not None and reference["pre_fork"] is not None  # TLS profile, balance
    # Nothing about our app: its checks, dirty workers (history, jobs) and access log.
    for name in ("on_starting", "dirty_apps", "accesslog", "post_worker_init"):
        assert name not in reference, name


@pytest.mark.parametrize("side", ["noop", "predict_1"])
def test_a_missing_bare_side_gives_no_ratio(side):
    assert floor.summary([_run(side, 100.0)])["over_bare"] == {side: None}
