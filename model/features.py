"""Word-frequency features: smoothed per-word log-ratios, summarised per tweet."""

import math

import numpy as np

FEATURE_NAMES = (
    "ratio_sum",
    "ratio_mean",
    "ratio_max",
    "ratio_min",
    "log_tokens",
    "positive_tokens",
    "negative_tokens",
)


class FrequencyFeaturizer:
    """Turn token lists into per-tweet features from per-word class frequencies.

    ``fit`` counts, for every token, the training tweets of each class it
    appears in, and keeps the additively smoothed log-ratio
    ``log P(w | positive) - log P(w | negative)``. ``transform`` summarises a
    tweet's ratios (sum, mean, extremes, counts), so a logistic regression on top
    stays small and its weights stay readable. The tutorial summed raw counts;
    smoothing keeps words seen once or twice from dominating.
    """

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, docs, y):
        """Learn ``log_ratio_`` from token lists ``docs`` and 0/1 labels ``y``."""
        positive, negative = {}, {}
        for tokens, label in zip(docs, y, strict=True):
            counts = positive if label else negative
            for token in set(tokens):
                counts[token] = counts.get(token, 0) + 1
        vocabulary = sorted(positive.keys() | negative.keys())
        alpha = self.alpha
        pos_total = sum(positive.values()) + alpha * len(vocabulary)
        neg_total = sum(negative.values()) + alpha * len(vocabulary)
        offset = math.log(neg_total) - math.log(pos_total)
        self.log_ratio_ = {
            token: math.log(positive.get(token, 0) + alpha)
            - math.log(negative.get(token, 0) + alpha)
            + offset
            for token in vocabulary
        }
        return self

    def transform(self, docs):
        """Return an array of shape (len(docs), len(FEATURE_NAMES)).

        The only per-token Python work is one dict lookup; the summaries are
        computed for the whole batch at once over the concatenated ratios.
        """
        get = self.log_ratio_.get
        flat, known, sizes = [], [], []
        for tokens in docs:
            ratios = [r for r in map(get, tokens) if r is not None]
            flat += ratios
            known.append(len(ratios))
            sizes.append(len(tokens))
        out = np.zeros((len(docs), len(FEATURE_NAMES)))
        out[:, 4] = np.log1p(sizes)
        known = np.asarray(known)
        rows = np.flatnonzero(known)
        if rows.size:
            ratios = np.asarray(flat)
            starts = np.concatenate(([0], np.cumsum(known[rows])[:-1]))
            total = np.add.reduceat(ratios, starts)
            out[rows, 0] = total
            out[rows, 1] = total / known[rows]
            out[rows, 2] = np.maximum.reduceat(ratios, starts)
            out[rows, 3] = np.minimum.reduceat(ratios, starts)
            out[rows, 5] = np.add.reduceat(ratios > 0, starts)
            out[rows, 6] = np.add.reduceat(ratios < 0, starts)
        return out

    def fit_transform(self, docs, y):
        """Fit on ``docs`` and return their features."""
        return self.fit(docs, y).transform(docs)
