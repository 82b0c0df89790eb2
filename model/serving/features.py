"""Word-frequency features: smoothed per-word log-ratios, summarised per tweet."""

import math
from collections.abc import Sequence
from typing import Self

import numpy as np
from numpy.typing import NDArray

from model.serving.base import Targets

FEATURE_NAMES = (
    "ratio_sum",
    "ratio_mean",
    "ratio_max",
    "ratio_min",
    "log_tokens",
    "positive_tokens",
    "negative_tokens",
)
# One tweet's features, in the order of FEATURE_NAMES.
FeatureRow = tuple[float, float, float, float, float, int, int]


class FrequencyFeaturizer:
    """Turn token lists into per-tweet features from per-word class frequencies.

    ``fit`` counts, for every token, the training tweets of each class it
    appears in, and keeps the additively smoothed log-ratio
    ``log P(w | positive) - log P(w | negative)``. ``transform`` summarises a
    tweet's ratios (sum, mean, extremes, counts), so a logistic regression on top
    stays small and its weights stay readable. The tutorial summed raw counts;
    smoothing keeps words seen once or twice from dominating.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, docs: Sequence[Sequence[str]], y: Targets) -> Self:
        """Learn ``log_ratio_`` from token lists ``docs`` and 0/1 labels ``y``."""
        positive: dict[str, int] = {}
        negative: dict[str, int] = {}
        for tokens, label in zip(docs, y, strict=True):
            counts = positive if label else negative
            for token in set(tokens):
                counts[token] = counts.get(token, 0) + 1
        vocabulary = sorted(positive.keys() | negative.keys())
        alpha = self.alpha
        pos_total = sum(positive.values()) + alpha * len(vocabulary)
        neg_total = sum(negative.values()) + alpha * len(vocabulary)
        offset = math.log(neg_total) - math.log(pos_total)
        self.log_ratio_: dict[str, float] = {
            token: math.log(positive.get(token, 0) + alpha)
            - math.log(negative.get(token, 0) + alpha)
            + offset
            for token in vocabulary
        }
        return self

    def transform(self, docs: Sequence[Sequence[str]]) -> NDArray[np.float64]:
        """Return an array of shape (len(docs), len(FEATURE_NAMES))."""
        return np.array(self.rows(docs), dtype=float).reshape(len(docs), len(FEATURE_NAMES))

    def rows(self, docs: Sequence[Sequence[str]]) -> list[FeatureRow]:
        """Return the features of each token list as a tuple (the serving path: no numpy).

        Per tweet: one dict lookup per token and a few C-level list passes.
        One code path for every batch size, so a tweet's features (and label)
        never depend on the batch it came in; numpy per-batch reductions were
        faster for 1000 tweets but cost ~30 us of overhead for one.
        """
        get = self.log_ratio_.get
        log1p = math.log1p
        rows: list[FeatureRow] = []
        for tokens in docs:
            ratios = [r for r in map(get, tokens) if r is not None]
            known = len(ratios)
            if known:
                total = sum(ratios)
                positive = len([r for r in ratios if r > 0.0])
                negative = len([r for r in ratios if r < 0.0])
                rows.append(
                    (total, total / known, max(ratios), min(ratios), log1p(len(tokens)), positive, negative)
                )
            else:
                rows.append((0.0, 0.0, 0.0, 0.0, log1p(len(tokens)), 0, 0))
        return rows

    def contributions(self, tokens: Sequence[str], coef: Sequence[float]) -> tuple[list[float], float]:
        """Return each token's exact share of ``coef`` . features, and the share of no token (the length).

        Sum, mean and the two counts are sums over tokens; the maximum and the
        minimum belong to the first token that reaches them.
        """
        get = self.log_ratio_.get
        ratios = [get(token) for token in tokens]
        known = [r for r in ratios if r is not None]
        shares = [0.0] * len(tokens)
        if known:
            w_sum, w_mean, w_max, w_min, _, w_pos, w_neg = coef
            for i, r in enumerate(ratios):
                if r is not None:
                    shares[i] = (
                        w_sum * r
                        + w_mean * r / len(known)
                        + (w_pos if r > 0.0 else 0.0)
                        + (w_neg if r < 0.0 else 0.0)
                    )
            shares[ratios.index(max(known))] += w_max * max(known)
            shares[ratios.index(min(known))] += w_min * min(known)
        return shares, coef[FEATURE_NAMES.index("log_tokens")] * math.log1p(len(tokens))

    def fit_transform(self, docs: Sequence[Sequence[str]], y: Targets) -> NDArray[np.float64]:
        """Fit on ``docs`` and return their features."""
        return self.fit(docs, y).transform(docs)
