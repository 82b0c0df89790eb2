"""The benchmark's own logic: parsing wrk, units, ratios, the table and the plot."""

import pytest

from bench import memory, report, wrk

WRK_OUTPUT = """Running 5s test @ https://localhost:5000/api/v1/predict
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.10ms    1.20ms  30.00ms   90.00%
    Req/Sec     1.95k   100.00     2.10k    70.00%
  Latency Distribution
     50%    3.90ms
     75%  750.00us
     90%    1.20s
     99%   12.50ms
  9750 requests in 5.00s, 2.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   1950.00
Transfer/sec:    409.60KB
"""


def test_parse_reads_rate_latency_and_errors():
    parsed = wrk.parse(WRK_OUTPUT)
    assert parsed["requests_per_s"] == 1950.0
    assert parsed["requests"] == 9750
    assert parsed["latency_ms"] == {"p50": 3.9, "p75": 0.75, "p90": 1200.0, "p99": 12.5}
    assert (parsed["non_2xx"], parsed["socket_errors"]) == (4, 3)


def test_parse_refuses_other_output():
    with pytest.raises(ValueError, match="not wrk output"):
        wrk.parse("unable to connect to localhost:5000 Connection refused")


@pytest.mark.parametrize(("value", "unit", "ms"), [("250", "us", 0.25), ("2", "ms", 2), ("1.5", "s", 1500)])
def test_units(value, unit, ms):
    assert wrk.to_ms(value, unit) == pytest.approx(ms)


def _result(noop_rps=1000.0, single_rps=600.0, big_rps=30.0, client_cpu=0.2):
    def run(scenario, rps, size, cpu=0.05):
        return {
            "scenario": scenario,
            "tweets": size,
            "model": "default",
            "connections": 8,
            "requests_per_s": rps,
            "tweets_per_s": rps * size,
            "latency_ms": {"p50": 1.0, "p99": 5.0},
            "non_2xx": 0,
            "socket_errors": 0,
            "client_cpu_share": cpu,
        }

    return {
        "machine": {"cores": 2},
        "in_process": [
            {
                "batch": b,
                "served_tweets_per_s": 40000.0,
                "served_cold_tweets_per_s": 9000.0,
                "naive_tweets_per_s": 2000.0,
                "speedup": 20.0,
            }
            for b in (1, 100, 1000)
        ],
        "https": {
            "workers": 2,
            "startup_s": 3.0,
            "memory": {"after_warmup": {1: 140.0}, "after_run": {1: 141.0}},
            "runs": [
                run("noop", noop_rps, 0),
                run("noop", noop_rps / 2, 0),
                run("predict_1", single_rps, 1),
                run("predict_100", 200.0, 100),
                run("predict_1000", big_rps, 1000, client_cpu),
            ],
        },
    }


def test_ratios_use_the_best_run_and_count_the_load_generator():
    ratios = report.ratios(_result())
    assert ratios["predict1_over_noop_rps"] == 0.6
    assert ratios["server_cores_counted"] == 1.8  # 2 cores less the 0.2 wrk used
    assert ratios["predict1000_tweets_over_inprocess_capacity"] == round(30000 / (40000 * 1.8), 2)
    assert ratios["inprocess_speedup_vs_naive"] == {1: 20.0, 100: 20.0, 1000: 20.0}


def test_server_cores_never_exceed_the_workers():
    result = _result(client_cpu=0.0)
    result["https"]["workers"] = 1
    assert report.ratios(result)["server_cores_counted"] == 1


def test_table_and_plot(tmp_path):
    result = _result()
    text = report.table(result)
    assert "| 1000 | 40,000 | 9,000 | 2,000 | 20.0x |" in text
    assert "predict1_over_noop_rps = 0.6" in text
    assert report.plot(result, tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_memory_reads_this_process():
    import os

    assert memory.rss_mib(os.getpid()) > 1
    assert 0 < memory.private_mib(os.getpid()) <= memory.rss_mib(os.getpid())
    assert memory.rss([os.getpid()]) == {os.getpid(): pytest.approx(memory.rss_mib(os.getpid()), abs=1)}
    assert os.getpid() in memory.children(os.getppid())  # this process is a child of its parent
    assert os.getpid() in memory.descendants(os.getppid())
    assert memory.server_cpu(os.getppid()) >= memory.cpu_seconds(os.getpid()) > 0


def _history_run(conns, side, p50, cpu=None):
    """One alternating history run as measure_history records it."""
    return {
        "scenario": f"history_{side}_100",
        "connections": conns,
        "history": side,
        "requests_per_s": 100.0,
        "latency_ms": {"p50": p50, "p99": p50 * 2},
        "server_cpu_ms_per_request": cpu if cpu is not None else p50,
    }


def test_history_ratio_is_the_median_of_rounds_at_the_same_concurrency():
    result = _result()
    result["https"]["runs"] += [
        _history_run(1, "off", 2.0),
        _history_run(1, "on", 2.2),
        _history_run(1, "off", 9.0),  # one slow round must not move the median much
        _history_run(1, "on", 2.4),
        _history_run(1, "off", 2.0),
        _history_run(1, "on", 2.6),
        _history_run(4, "off", 10.0),
        _history_run(4, "on", 15.0),
    ]
    assert report.ratios(result)["history_on_over_off_p50_100"] == {1: 1.2, 4: 1.5}
    assert report.ratios(_result())["history_on_over_off_p50_100"] is None


def test_history_cpu_ratio_is_the_median_over_every_run_of_each_side():
    result = _result()
    result["https"]["runs"] += [
        _history_run(1, "off", 2.0, cpu=4.0),
        _history_run(1, "on", 2.0, cpu=5.0),
        _history_run(4, "off", 9.0, cpu=4.0),
        _history_run(4, "on", 9.0, cpu=4.6),
        _history_run(16, "off", 30.0, cpu=20.0),
        _history_run(16, "on", 30.0, cpu=4.4),
    ]
    assert report.ratios(result)["history_on_over_off_cpu_100"] == 1.15
    assert report.ratios(_result())["history_on_over_off_cpu_100"] is None


def test_history_catch_up_is_the_longest_wait_and_the_missing_rows_are_summed():
    result = _result()
    result["https"]["runs"] += [
        _history_run(1, "off", 2.0),
        {**_history_run(1, "on", 2.0), "history_catch_up_s": 0.4, "history_rows_missing": 0},
        {**_history_run(16, "on", 30.0), "history_catch_up_s": 6.5, "history_rows_missing": 300},
        {**_history_run(16, "on", 30.0), "history_catch_up_s": 2.0, "history_rows_missing": 100},
    ]
    ratios = report.ratios(result)
    assert (ratios["history_catch_up_s_max"], ratios["history_rows_missing"]) == (6.5, 400)
    assert "history_catch_up_s_max" not in report.ratios(_result())
