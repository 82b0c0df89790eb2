"""Explanations: each word's exact share of the log-odds, as the user wrote it."""

import math

import pytest

from model.paths import DEFAULT_DATA
from model.serving import artifacts
from model.serving.classifier import FrequencyLogisticModel
from model.serving.explain import explain
from model.serving.nblr import NBLogisticModel
from model.serving.text import normalize, preprocess
from model.serving.traced import preprocess_traced
from model.training.data import fixed_split, read_rows

TOLERANCE = 1e-9
MODEL_CLASSES = [FrequencyLogisticModel, NBLogisticModel]
POSITIVE = ["good day", "so good", "good fun today", "a good one", "love it", "love this"]
NEGATIVE = ["bad day", "so bad", "not good today", "a bad one", "hate it", "hate this"]


def _small(model_class):
    """A model trained on a few made-up tweets where "good" and "love" are positive, "not good" negative."""
    extra = {"folds": 2} if model_class is FrequencyLogisticModel else {"word_min_df": 1, "char_min_df": 1}
    return model_class(**extra).fit((POSITIVE + NEGATIVE) * 2, ([1] * 6 + [0] * 6) * 2)


def _assert_exact(model, texts):
    """Assert every explanation's parts add up to its log-odds, and that to the model's score."""
    scores = model.log_odds(texts)
    for text, score, explanation in zip(texts, scores, explain(model, texts), strict=True):
        parts = [w["contribution"] for w in explanation["words"]]
        rest = explanation["rest"]
        total = math.fsum([*parts, rest["intercept"], rest["other"]])
        assert abs(explanation["log_odds"] - score) <= TOLERANCE, text
        assert abs(total - explanation["log_odds"]) <= TOLERANCE, (text, total, explanation)


@pytest.mark.data
@pytest.mark.parametrize("name", ["freqlr", "nblr"])
def test_parts_add_up_to_the_log_odds_for_every_heldout_tweet(name):
    model, _ = artifacts.load(artifacts.DEFAULT_DIR, name)
    texts = fixed_split(read_rows(DEFAULT_DATA)).test_texts
    assert len(texts) == 2000
    _assert_exact(model, texts)


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_parts_add_up_on_odd_tweets(model_class):
    texts = ["", "...", "good", "good good good!!", "@Ann http://x.co good", "İstanbul GOOD", "a.b,c :) 😀"]
    _assert_exact(_small(model_class), texts)


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_words_keep_the_case_the_user_wrote(model_class):
    words = [w["word"] for w in explain(_small(model_class), ["I LOVE it"])[0]["words"]]
    assert "LOVE" in words
    assert "love" not in words


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_a_negated_word_is_named_as_written(model_class):
    model = _small(model_class)
    words = explain(model, ["not GOOD"])[0]["words"]
    assert [w["word"] for w in words] == ["GOOD"]


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_negation_turns_a_positive_word_negative(model_class):
    model = _small(model_class)
    [good] = explain(model, ["not good"])[0]["words"]
    assert good["word"] == "good" and good["contribution"] < 0
    [plain] = explain(model, ["good"])[0]["words"]
    assert plain["contribution"] > 0


def test_handles_stems_and_entities_map_back_to_the_written_words():
    traced, chunks = preprocess_traced("@Alice Loving it &amp; NOT sooo GOOD.. http://x.co/A")
    # "not" negates "good" (a sentiment word): the negation is carried by "NOT_good" alone.
    assert [t[0] for t in traced] == ["@user", "love", "it", "so", "NOT_good"]
    assert [t[1] for t in traced] == ["@Alice", "Loving", "it", "sooo", "GOOD"]
    assert chunks == ["@user", "loving", "it", "&", "not", "sooo", "good.."]


@pytest.mark.data
def test_traced_tokens_are_the_served_ones_for_every_tweet():
    for text, _ in read_rows(DEFAULT_DATA):
        traced, chunks = preprocess_traced(text)
        assert [t[0] for t in traced] == preprocess(text), text
        assert chunks == normalize(text).split(), text


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_top_lists_are_ordered_and_bounded(model_class):
    explanation = explain(_small(model_class), ["good love bad hate so a day fun rain"], top=2)[0]
    positive = [w["contribution"] for w in explanation["top_positive"]]
    negative = [w["contribution"] for w in explanation["top_negative"]]
    assert len(positive) <= 2 and len(negative) <= 2
    assert positive == sorted(positive, reverse=True) and all(v > 0 for v in positive)
    assert negative == sorted(negative) and all(v < 0 for v in negative)
    every = sorted((w["contribution"] for w in explanation["words"]), reverse=True)
    assert positive == [v for v in every if v > 0][:2]
