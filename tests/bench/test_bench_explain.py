"""The bench's explain part: its rows, medians and ratios, what it says is charged, the identity headers'
share, and its table (a short run on the committed models; no figure is asserted, only the arithmetic)."""

import statistics

import pytest

from api.web.explaining import EXPLAIN_COST_FACTORS
from bench import explain

TEXTS = ["what a lovely day :)", "I hate waiting", "not bad at all", "so tired of this"]


@pytest.fixture(scope="module")
def part():
    """A short run: freqlr only, 1 and 3 tweets, three rounds of one request a side, 50 header calls."""
    return explain.measure(TEXTS, calls=50, rounds=3, seconds=0, models=("freqlr",), batches=(1, 3))


def test_a_row_per_model_and_batch_with_the_median_of_its_rounds(part):
    assert [(row["model"], row["tweets"]) for row in part["explain"]] == [("freqlr", 1), ("freqlr", 3)]
    for row in part["explain"]:
        assert len(row["ratios"]) == 3
        assert row["ratio"] == pytest.approx(statistics.median(row["ratios"]), abs=0.005)
        assert row["plain_ms"] > 0
        assert row["explain_ms"] > 0


def test_each_row_says_what_the_budget_charges_for_its_model(part):
    assert {row["charged"] for row in part["explain"]} == {EXPLAIN_COST_FACTORS["freqlr"]}


def test_the_headers_share_is_of_the_plain_one_tweet_request_of_the_default_model(part):
    single = next(row for row in part["explain"] if row["tweets"] == 1)
    assert part["plain_1_tweet_us"] == pytest.approx(1000 * single["plain_ms"])
    assert part["identity_headers_share_of_1_tweet"] == pytest.approx(
        part["identity_headers_us"]["one model"] / part["plain_1_tweet_us"]
    )
    assert set(part["identity_headers_us"]) == {"one model", "all models"}


def test_the_table_and_the_ratios_hold_every_row(part):
    text = explain.table(part)
    for row in part["explain"]:
        assert f"| {row['model']} | {row['tweets']} |" in text
        assert f"| {row['ratio']:.2f}x | {row['charged']}x |" in text
    assert explain.ratios(part)["explain_over_plain"] == {
        f"freqlr_{row['tweets']}": round(row["ratio"], 2) for row in part["explain"]
    }


def test_a_request_the_server_refuses_stops_the_bench(tmp_path):
    app, headers = explain._app(tmp_path)
    with pytest.raises(RuntimeError, match="400"):
        explain._ms_per_request(
            app.test_client(), explain.PREDICT + "&explain=maybe", b'{"a": "x"}', headers, 0
        )
