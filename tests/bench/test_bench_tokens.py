"""The bench's token-lookup part: its tokens file, medians, ratio, verdict, table and place in the report."""

import json

import pytest

from api.ops.tokens import create_token, parse_tokens
from bench import report, tokens
from tests.bench.test_bench import _result


def _run(count, rps, round_=0, p50=7.0, errors=0, cpu=1.7):
    """One no-op wrk run as bench.tokens records it."""
    return {
        "tokens": count,
        "round": round_,
        "requests_per_s": rps,
        "requests": int(rps * 5),
        "latency_ms": {"p50": p50, "p99": p50 * 3},
        "non_2xx": errors,
        "socket_errors": 0,
        "server_cpu_ms_per_request": cpu,
    }


def _lookup(runs):
    """A token-lookup result as bench.tokens.measure returns it."""
    return {"connections": 8, "rounds": 3, "seconds": 5, "runs": runs, **tokens.summary(runs)}


def test_the_tokens_file_holds_that_many_valid_entries_and_takes_one_more(tmp_path):
    path = tmp_path / "tokens.json"
    tokens.write_tokens(path, 9_999)
    assert len(parse_tokens(path.read_bytes())) == 9_999
    assert path.stat().st_mode & 0o777 == 0o600
    create_token(path, "e2e")  # as running_server does: the server's own token makes 10,000
    assert len(json.loads(path.read_text())["tokens"]) == 10_000


def test_summary_takes_the_median_of_each_side():
    runs = [
        _run(1, 1000.0, 0),
        _run(10_000, 950.0, 0, cpu=1.9),
        _run(10_000, 400.0, 1, cpu=4.0),  # one slow round must not move the median much
        _run(1, 1100.0, 1),
        _run(1, 1050.0, 2),
        _run(10_000, 980.0, 2, cpu=1.8),
    ]
    result = tokens.summary(runs)
    assert (result["one_token_rps"], result["many_tokens_rps"]) == (1050.0, 950.0)
    assert (result["many_tokens"], result["ratio"]) == (10_000, 0.905)
    assert result["within_bound"] is True
    assert result["cpu_ratio"] == round(1.9 / 1.7, 3)


@pytest.mark.parametrize(
    ("many_rps", "within"), [(890.0, False), (900.0, True), (1100.0, True), (1110.0, False)]
)
def test_the_bound_is_ten_percent_either_way(many_rps, within):
    assert tokens.summary([_run(1, 1000.0), _run(10_000, many_rps)])["within_bound"] is within


def test_table_shows_both_rates_each_round_and_the_verdict():
    text = tokens.table(_lookup([_run(1, 1000.0, 0), _run(10_000, 250.0, 0, errors=2), _run(1, 1200.0, 1)]))
    assert "| 1 | 1,100 | 1,000 / 1,200 | 7.00 | 1.70 | 0 |" in text
    assert "| 10,000 | 250 | 250 | 7.00 | 1.70 | 2 |" in text
    assert "10,000 tokens over 1 token: 0.23x requests/s (within 10%: NO), 1.00x server CPU" in text


def test_the_report_adds_the_ratio_and_the_table_when_measured():
    result = _result()
    assert not any(key.startswith("noop_") for key in report.ratios(result))
    result["tokens"] = _lookup([_run(1, 1000.0), _run(10_000, 970.0)])
    assert report.ratios(result)["noop_10000_tokens_over_1_token_rps"] == 0.97
    text = report.table(result)
    assert "10,000 tokens over 1 token: 0.97x requests/s (within 10%: yes)" in text
    assert "noop_10000_tokens_over_1_token_rps = 0.97" in text
