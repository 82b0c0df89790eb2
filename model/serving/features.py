"""Word-frequency features: smoothed per-word log-ratios and lexicon valences, summarised per tweet."""

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Self

import numpy as np
from numpy.typing import NDArray

from model.serving.base import Targets
from model.serving.lexicon import N_SCALAR, Lexicon
from model.serving.text import NEGATED_PREFIX

FEATURE_NAMES = (
    "ratio_sum",
    "ratio_mean",
    "ratio_max",
    "ratio_min",
    "log_tokens",
    "positive_tokens",
    "negative_tokens",
    "lexicon_sum",
    "lexicon_positive",
    "lexicon_negative",
    "lexicon_unseen",
    "pair_sum",
    "pair_mean",
    "pair_count",
)
# One tweet's features, in the order of FEATURE_NAMES.
FeatureRow = tuple[float, ...]
_LENGTH = FEATURE_NAMES.index("log_tokens")
_PREFIX = len(NEGATED_PREFIX)
# The lexicon and pair features of a tweet without sentiment words or known pairs.
_NO_LEXICON: FeatureRow = (0.0, 0, 0, 0.0)
_NO_PAIRS: FeatureRow = (0.0, 0.0, 0)

# Pairs of adjacent tokens seen in fewer training tweets than this get no ratio: most pairs are seen
# once, and their ratios, all alike, would only grow the model file (cross-validated: 2 is as good as 1).
PAIR_MIN_COUNT = 2


def log_ratios(
    docs: Sequence[Sequence[str]], y: Targets, alpha: float, min_count: int = 1
) -> dict[str, float]:
    """Return the smoothed ``log P(w | pos) - log P(w | neg)`` of each term in min_count tweets or more."""
    positive: dict[str, int] = {}
    negative: dict[str, int] = {}
    for terms, label in zip(docs, y, strict=True):
        counts = positive if label else negative
        for term in set(terms):
            counts[term] = counts.get(term, 0) + 1
    vocabulary = sorted(
        term
        for term in positive.keys() | negative.keys()
        if positive.get(term, 0) + negative.get(term, 0) >= min_count
    )
    if not vocabulary:
        return {}
    pos_total = sum(positive.values()) + alpha * len(vocabulary)
    neg_total = sum(negative.values()) + alpha * len(vocabulary)
    offset = math.log(neg_total) - math.log(pos_total)
    return {
        term: math.log(positive.get(term, 0) + alpha) - math.log(negative.get(term, 0) + alpha) + offset
        for term in vocabulary
    }


def pairs(tokens: Sequence[str]) -> list[str]:
    """Return the adjacent token pairs of a tweet, each as "first second"."""
    return list(map(" ".join, itertools.pairwise(tokens)))


class FrequencyFeaturizer:
    """Turn token lists into per-tweet features from per-word class frequencies and a lexicon.

    ``fit`` counts, for every token, the training tweets of each class it
    appears in, and keeps the additively smoothed log-ratio
    ``log P(w | positive) - log P(w | negative)``. ``rows`` summarises a
    tweet's ratios (sum, mean, extremes, counts), its lexicon valences (sum and
    counts, see ``model.serving.lexicon``; and the sum over tokens the training
    tweets never showed, such as emoticons, for which the lexicon is all there is).
    Pairs of adjacent tokens seen in training ("can't wait", "no idea") have ratios
    too (sum, mean, count). Every feature but the length is a sum over tokens or
    one token's value, so a score splits exactly by word.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        valence: Mapping[str, float] | None = None,
        boosters: Mapping[str, float] | None = None,
    ) -> None:
        self.alpha = alpha
        self.lexicon = Lexicon(valence or {}, boosters or {})

    def fit(self, docs: Sequence[Sequence[str]], y: Targets) -> Self:
        """Learn ``log_ratio_`` and ``pair_ratio_`` from token lists ``docs`` and 0/1 labels ``y``."""
        ratios = {
            t: r for t, r in log_ratios(docs, y, self.alpha).items() if not t.startswith(NEGATED_PREFIX)
        }
        # A negated sentiment word's ratio is its plain word's, flipped and scaled as VADER scales a
        # negated valence: the few "not bad"s of 8,000 tweets say less than the many "bad"s do.
        negated = {NEGATED_PREFIX + t: N_SCALAR * r for t, r in ratios.items() if t in self.lexicon.valence}
        self.log_ratio_ = ratios | negated
        self.set_pair_ratios(log_ratios([pairs(tokens) for tokens in docs], y, self.alpha, PAIR_MIN_COUNT))
        return self

    def set_pair_ratios(self, ratios: dict[str, float]) -> None:
        """Keep the pairs' ratios ("a b" keys, as saved) and a copy keyed by token tuples for scoring."""
        self.pair_ratio_ = ratios
        # Looked up with itertools.pairwise's tuples: no string is built per pair of a tweet.
        self.pair_tuples_ = {tuple(pair.split(" ")): r for pair, r in ratios.items()}

    def transform(self, docs: Sequence[Sequence[str]]) -> NDArray[np.float64]:
        """Return an array of shape (len(docs), len(FEATURE_NAMES))."""
        return np.array(self.rows(docs), dtype=float).reshape(len(docs), len(FEATURE_NAMES))

    def rows(self, docs: Sequence[Sequence[str]]) -> list[FeatureRow]:
        """Return the features of each token list as a tuple (the serving path: no numpy).

        Per tweet: a few dict lookups per token and a few C-level list passes.
        One code path for every batch size, so a tweet's features (and label)
        never depend on the batch it came in; numpy per-batch reductions were
        faster for 1000 tweets but cost ~30 us of overhead for one.
        """
        ratio_table = self.log_ratio_
        get, get_pair = ratio_table.get, self.pair_tuples_.get
        lexicon_values = self.lexicon.values
        pairwise = itertools.pairwise
        log1p = math.log1p
        # Bound comparisons counted by sum(map(...)) stay in C: half the time of a list comprehension.
        above, below = (0.0).__lt__, (0.0).__gt__
        rows: list[FeatureRow] = []
        for tokens in docs:
            ratios = [r for r in map(get, tokens) if r is not None]
            known = len(ratios)
            if known:
                total = sum(ratios)
                head: FeatureRow = (
                    total,
                    total / known,
                    max(ratios),
                    min(ratios),
                    log1p(len(tokens)),
                    sum(map(above, ratios)),
                    sum(map(below, ratios)),
                )
            else:
                head = (0.0, 0.0, 0.0, 0.0, log1p(len(tokens)), 0, 0)
            lexicon = lexicon_values(tokens)
            if any(lexicon):
                unseen = (
                    sum(
                        [
                            v
                            for v, token in zip(lexicon, tokens, strict=True)
                            if v and token not in ratio_table
                        ]
                    )
                    if known < len(tokens)
                    else 0.0
                )
                head += (sum(lexicon), sum(map(above, lexicon)), sum(map(below, lexicon)), unseen)
            else:
                head += _NO_LEXICON
            pair_ratios = [r for r in map(get_pair, pairwise(tokens)) if r is not None]
            if pair_ratios:
                pair_total = sum(pair_ratios)
                rows.append((*head, pair_total, pair_total / len(pair_ratios), len(pair_ratios)))
            else:
                rows.append(head + _NO_PAIRS)
        return rows

    def contributions(self, tokens: Sequence[str], coef: Sequence[float]) -> tuple[list[float], float]:
        """Return each token's exact share of ``coef`` . features, and the share of no token (the length).

        Sums and counts are sums over tokens; the maximum and the minimum belong
        to the first token that reaches them.
        """
        get = self.log_ratio_.get
        ratios = [get(token) for token in tokens]
        known = [r for r in ratios if r is not None]
        w_sum, w_mean, w_max, w_min, _, w_pos, w_neg, w_lex, w_lex_pos, w_lex_neg, w_unseen, *w_pairs = coef
        shares = [0.0] * len(tokens)
        for i, r in enumerate(ratios):
            if r is not None:
                shares[i] = w_sum * r + w_mean * r / len(known) + (w_pos if r > 0.0 else 0.0)
                shares[i] += w_neg if r < 0.0 else 0.0
        if known:
            shares[ratios.index(max(known))] += w_max * max(known)
            shares[ratios.index(min(known))] += w_min * min(known)
        lexicon = self.lexicon.values(tokens)
        for i, value in enumerate(lexicon):
            shares[i] += w_lex * value + (w_lex_pos if value > 0.0 else w_lex_neg if value < 0.0 else 0.0)
            shares[i] += w_unseen * value if ratios[i] is None else 0.0
        pair_ratios = [self.pair_tuples_.get(pair) for pair in itertools.pairwise(tokens)]
        known_pairs = len([r for r in pair_ratios if r is not None])
        w_pair_sum, w_pair_mean, w_pair_count = w_pairs
        for i, r in enumerate(pair_ratios):
            if r is not None:
                # A pair's part is shared equally by its two tokens.
                half = (w_pair_sum * r + w_pair_mean * r / known_pairs + w_pair_count) / 2
                shares[i] += half
                shares[i + 1] += half
        return shares, coef[_LENGTH] * math.log1p(len(tokens))

    def fit_transform(self, docs: Sequence[Sequence[str]], y: Targets) -> NDArray[np.float64]:
        """Fit on ``docs`` and return their features."""
        return self.fit(docs, y).transform(docs)
