"""The share of a tweet's tokens a model never saw: what the drift monitor watches."""

import pytest

from model.serving.classifier import FrequencyLogisticModel
from model.serving.nblr import NBLogisticModel

TEXTS = ["good day today", "bad day today", "good fun", "bad rain"] * 3
LABELS = [1, 0, 1, 0] * 3


@pytest.mark.parametrize("model_class", [FrequencyLogisticModel, NBLogisticModel])
def test_unknown_share_counts_tokens_never_seen_in_training(model_class):
    extra = {"folds": 2} if model_class is FrequencyLogisticModel else {"word_min_df": 1}
    model = model_class(**extra).fit(TEXTS, LABELS)
    # Seen: "good", "day"; never seen: "zorblax", "quux" (2 of 4 tokens).
    assert model.unknown_shares(["good zorblax day quux", "good day", "zorblax"]) == [0.5, 0.0, 1.0]


@pytest.mark.parametrize("model_class", [FrequencyLogisticModel, NBLogisticModel])
def test_a_tweet_without_tokens_has_no_unknown_share(model_class):
    extra = {"folds": 2} if model_class is FrequencyLogisticModel else {"word_min_df": 1}
    model = model_class(**extra).fit(TEXTS, LABELS)
    assert model.unknown_shares(["", "   ", "..."]) == [0.0, 0.0, 0.0]


def test_a_negated_sentiment_word_is_known_when_its_plain_word_is():
    model = FrequencyLogisticModel(folds=2).fit(TEXTS, LABELS)
    # "not good" is one token, "NOT_good", whose ratio is "good"'s flipped; "not zorblax" is two unknown ones.
    assert model.unknown_shares(["not good", "not zorblax"]) == [0.0, 1.0]
