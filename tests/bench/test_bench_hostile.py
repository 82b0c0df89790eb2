"""The bench's timed hostile-load and fault parts: their summaries, tables and place in the report."""

import math

from bench import faults, hostile, report
from tests.bench.test_bench import _result


def _ms(p50, p90, top, n=40):
    """A latency summary as bench.hostile.stats_ms makes it."""
    return {"n": n, "p50": p50, "p90": p90, "max": top}


def _hostile():
    """A hostile-load result as bench.hostile.measure returns it."""
    flood = {
        "attackers": 4,
        "budgets": "defaults",
        "quiet_ms": _ms(84, 112, 249),
        "quiet_failed": 0,
        "healthz_ms": _ms(54, 73, 188),
        "healthz_failed": 1,
        "attacker_answers": [{"200": 2, "429": 90}],
        "within_bound": True,
    }
    idle = {
        "connections": 2500,
        "seconds": 12,
        "healthz_ms": _ms(304, 500, 900, 60),
        "healthz_failed": 0,
        "held_max": 196,
        "closed_by_server": 224000,
        "within_bound": False,
    }
    closes = {"idle": [2.0, 2.1], "stalled": [2.1, 2.1], "slowloris": [5.1, 5.1]}
    return {
        "flood": [flood],
        "idle": idle,
        "hostile": {"client_ms": _ms(7, 40, 40, 3), "closed_after_s": closes, "still_open": 0},
    }


def _faults():
    """A fault result as bench.faults.measure returns it."""
    hang = {"database": "mysql", "requests": 15, "median_s": 0.012, "slowest_s": 0.031, "within_bound": True}
    return {
        "hanging_database": [hang],
        "sigterm": {"exit_s": 1.4, "answered": True, "returncode": 0, "within_bound": True},
        "slow_body": {"request_timeout_s": 3, "cut_after_s": 3.5, "within_bound": True},
    }


def test_stats_ms_gives_nearest_rank_percentiles_in_milliseconds():
    assert hostile.stats_ms([0.01, 0.02, 0.03, 0.04]) == {"n": 4, "p50": 20.0, "p90": 40.0, "max": 40.0}
    empty = hostile.stats_ms([])
    assert empty["n"] == 0 and math.isnan(empty["p50"]) and math.isnan(empty["max"])


def test_hostile_table_shows_each_figure_and_its_verdict():
    text = hostile.table(_hostile())
    assert "| 4 token(s), budgets defaults | 84 / 112 / 249 | 54 / 73 / 188 | 1 | yes |" in text
    assert "/healthz p50 304 ms" in text and "(median <= 200 ms: NO)" in text
    assert "closed by the server 224,000 times" in text
    assert "idle 2.0-2.1 s" in text and "slowloris 5.1-5.1 s" in text and "0 never closed" in text


def test_faults_table_shows_each_figure():
    text = faults.table(_faults())
    assert "mysql slowest 31 ms (median 12 ms)" in text
    assert "exit after 1.4 s (graceful_timeout 20 s), the request answered: True" in text
    assert "cut off after 3.5 s (bound 8 s)" in text


def test_the_report_includes_the_timed_parts_when_measured():
    result = _result()
    assert "Hostile load" not in report.table(result)
    result |= {"hostile": _hostile(), "faults": _faults()}
    text = report.table(result)
    assert hostile.table(result["hostile"]) in text
    assert faults.table(result["faults"]) in text
