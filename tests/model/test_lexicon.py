"""The lexicon's tokens and rules (model/serving/lexicon.py): boosters are words of their own."""

import pytest

from model.serving.lexicon import Lexicon, vader_tables
from model.serving.text import BOOSTERS, analyse, preprocess


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon(*vader_tables())


def test_no_booster_shares_a_token_with_a_sentiment_word(lexicon):
    # Stemmed, "awfully" was "aw" (the stem of "awful", -2.0) and "hugely" was "huge" (+1.3).
    assert lexicon.boosters
    assert lexicon.boosters.keys().isdisjoint(lexicon.valence)
    assert preprocess("awfully good") == ["awfully", "good"]
    assert preprocess("awful") == [analyse("awful")[0]] != ["awfully"]


def test_a_booster_is_never_negated():
    for booster in BOOSTERS:
        plain, negated, _ = analyse(booster)
        assert plain == negated == booster
    assert preprocess("not very good")[0] == "very"


def test_a_booster_carries_no_valence_and_strengthens_the_next_word(lexicon):
    plain = lexicon.values(["good"])[0]
    assert lexicon.values(["awfully", "good"]) == [0.0, pytest.approx(plain + lexicon.boosters["awfully"])]
    assert lexicon.values(["hardly", "good"])[1] < plain
    assert lexicon.values(["very", "bad"])[1] < lexicon.values(["bad"])[0] < 0.0


@pytest.mark.parametrize(("text", "word"), [("not very good", "NOT_good"), ("not huge fan", "NOT_fan")])
def test_a_word_has_the_same_valence_whatever_else_the_tweet_holds(lexicon, text, word):
    # "huge" is a sentiment word, not a booster ("hugely" is): it boosted a negated word only in a
    # tweet that also held a plain booster.
    tokens = preprocess(text)
    alone = lexicon.values(tokens)[tokens.index(word)]
    assert alone < 0.0
    for context in ("so {}", "{}, very much", "very sad. {}"):
        tokens = preprocess(context.format(text))
        assert lexicon.values(tokens)[tokens.index(word)] == pytest.approx(alone)
