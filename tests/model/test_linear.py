"""freqlr's serving arithmetic (model/serving/linear.py): the log-odds its features and weights give."""

import copy
import random
from operator import mul

import pytest

from model.paths import DEFAULT_DATA
from model.serving import artifacts, linear
from model.serving.lexicon import BUT
from model.serving.text import NEGATED_PREFIX, preprocess
from model.training.data import fixed_split, read_rows

# Reassociating a dozen products and sums moves a score by a few units in the last place, no more.
TOLERANCE = 1e-12


@pytest.fixture(scope="module")
def model():
    """The shipped freqlr model."""
    loaded, _ = artifacts.load(artifacts.DEFAULT_DIR, "freqlr")
    return loaded


def _by_features(model, docs):
    """Return the log-odds of token lists the plain way: each feature row times the weights."""
    rows = model.featurizer_.rows(docs)
    return [sum(map(mul, model.coef_list_, row), model.intercept_) for row in rows]


def _assert_same(model, docs):
    """Assert the scorer's log-odds equal the features' for every token list."""
    for tokens, fast, plain in zip(docs, model.scorer_.scores(docs), _by_features(model, docs), strict=True):
        assert abs(fast - plain) <= TOLERANCE, (tokens, fast, plain)


@pytest.mark.data
def test_every_heldout_tweet_scores_as_its_features_do(model):
    texts = fixed_split(read_rows(DEFAULT_DATA)).test_texts
    assert len(texts) == 2000
    _assert_same(model, [preprocess(text) for text in texts])
    assert model.log_odds(texts) == model.scorer_.scores([preprocess(text) for text in texts])


def _vocabulary(model):
    """Return tokens of every kind the scorer treats apart, each kind checked to be present."""
    featurizer = model.featurizer_
    lexicon = featurizer.lexicon
    ratios, pairs = featurizer.log_ratio_, featurizer.pair_ratio_
    boosters = sorted(lexicon.boosters)[:12]
    kinds = {
        "boosters": boosters,
        "but": [BUT],
        "sentiment words": sorted(t for t in lexicon.valence if t in ratios)[:40],
        "negated sentiment words": sorted(t for t in lexicon.scaled if t.startswith(NEGATED_PREFIX))[:20],
        "valence without a ratio": sorted(t for t in lexicon.scaled if t not in ratios)[:10],
        "words without a valence": sorted(t for t in ratios if t not in lexicon.scaled)[:40],
        "unknown": ["zzqxv", "qqqrt"],
        "pairs' words": [word for pair in sorted(pairs)[:30] for word in pair.split(" ")],
    }
    for kind, tokens in kinds.items():
        assert tokens, kind
    return [token for tokens in kinds.values() for token in tokens]


def test_made_up_token_lists_of_every_kind_score_as_their_features_do(model):
    vocabulary = _vocabulary(model)
    rng = random.Random(0)
    docs = [rng.choices(vocabulary, k=rng.randint(0, 20)) for _ in range(3000)]
    docs += [["very", "good"], ["very", NEGATED_PREFIX + "good"], ["so", "bad", BUT, "really", "good"], [BUT]]
    docs += [["very", "day", "extremely", "good"], ["good", "very", "very", "good", BUT], ["awfully", "aw"]]
    docs += [rng.choices(vocabulary, k=300)]  # longer than the length table
    _assert_same(model, docs)


def test_booster_pairs_score_the_same_when_the_memo_empties(model, monkeypatch):
    monkeypatch.setattr(linear, "_BOOSTER_MEMO", 3)
    memo = model.scorer_.booster_changes
    memo.clear()
    docs = [["very", "good"], ["so", "bad"], ["really", "love"], ["very", "sad"], ["very", "good"]] * 3
    _assert_same(model, docs)
    assert 0 < len(memo) <= 3


def test_a_pair_ratio_of_exactly_zero_still_counts_as_a_known_pair(model):
    featurizer = model.featurizer_
    pair = sorted(featurizer.pair_ratio_)[0]
    zeroed = copy.copy(featurizer)
    zeroed.set_pair_ratios(featurizer.pair_ratio_ | {pair: 0.0})
    scorer = linear.LinearScorer(zeroed, model.coef_list_, model.intercept_)
    docs = [pair.split(" "), [*pair.split(" "), "good"]]
    expected = [sum(map(mul, model.coef_list_, row), model.intercept_) for row in zeroed.rows(docs)]
    assert [row[-1] for row in zeroed.rows(docs)] == [1, 1]  # the zero pair is counted
    for fast, plain in zip(scorer.scores(docs), expected, strict=True):
        assert abs(fast - plain) <= TOLERANCE
