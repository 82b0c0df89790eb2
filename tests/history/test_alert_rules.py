"""deploy/prometheus/alerts.yml: its thresholds are drift.py's, every series it names one /metrics serves."""

import json
import re

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from model.paths import PROJECT_ROOT
from model.serving import drift
from model.serving.artifacts import DEFAULT_DIR
from tests.history.feedback_helpers import (
    WINDOW,
    mixed_tweets,
    monitored,  # noqa: F401 - fixture
    more_tokens,  # noqa: F401 - fixture
    registry,  # noqa: F401 - fixture
    send,
)

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
SERIES = re.compile(r"\bsentiment_[a-z_]+")


@pytest.fixture(scope="module")
def rules():
    """The alerting rules, by alert name."""
    (group,) = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for rule in group["rules"]}


def threshold(rule, comparison):
    """Return the number the rule's expression compares with ``comparison`` (``>``, ``<`` or ``>=``)."""
    (number,) = re.findall(rf"\s{re.escape(comparison)}\s*([0-9.]+)", rule["expr"])
    return float(number)


def test_the_drift_thresholds_are_drift_pys(rules):
    psi, unknown = rules["SentimentScoreDrift"], rules["SentimentUnknownTokens"]
    assert psi["expr"].startswith("sentiment_drift_psi >")
    assert threshold(psi, ">") == drift.PSI_ALERT
    over = "(sentiment_drift_unknown_share - sentiment_drift_reference_unknown_share)"
    assert unknown["expr"].startswith(over)
    assert threshold(unknown, ">") == drift.UNKNOWN_SHARE_ALERT


def test_the_accuracy_floor_is_below_every_shipped_models_held_out_accuracy(rules):
    floor = threshold(rules["SentimentLiveAccuracyLow"], "<")
    manifest = json.loads((DEFAULT_DIR / "manifest.json").read_text())
    accuracies = [entry["metrics"]["accuracy"] for entry in manifest["models"].values()]
    assert 0.5 < floor < min(accuracies)  # above a coin's, below what a working model reaches


def test_every_rule_waits_before_firing_and_says_what_to_do(rules):
    assert set(rules) == {"SentimentScoreDrift", "SentimentUnknownTokens", "SentimentLiveAccuracyLow"}
    for rule in rules.values():
        assert re.fullmatch(r"[0-9]+[mh]", rule["for"]), rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_series_the_rules_name_is_served_by_metrics(rules, monitored, more_tokens):  # noqa: F811
    alice = more_tokens["alice"]
    tweets = mixed_tweets(WINDOW)
    send(monitored, alice, tweets)
    labels = dict.fromkeys(tweets, "Positive")
    assert monitored.test_client().post("/api/v1/feedback", json=labels, headers=alice).status_code == 200
    text = monitored.test_client().get("/metrics", headers=more_tokens["ops"]).get_data(as_text=True)
    served = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    named = {name for rule in rules.values() for name in SERIES.findall(rule["expr"])}
    assert len(named) == 5
    assert named <= served, named - served
