"""The served model: frequency features and a logistic regression on top."""

import math
from collections.abc import Sequence
from operator import mul
from typing import Self

import numpy as np
from numpy.typing import NDArray

from model.errors import ArtifactError
from model.serving.base import (
    SOLVER_MAX_ITERATIONS,
    SOLVER_TOLERANCE,
    Attribution,
    JSONObject,
    Params,
    Targets,
    TweetClassifier,
    artifact_header,
    check_header,
    unknown_share,
)
from model.serving.features import FEATURE_NAMES, FrequencyFeaturizer
from model.serving.lexicon import vader_tables
from model.serving.linear import LinearScorer
from model.serving.text import preprocess
from model.serving.traced import preprocess_traced

FORMAT = "freqlr"
# 3: boosters kept unstemmed (model/serving/text.py): a version-2 file was trained on stemmed ones, and
# this code would score it with other tokens than it learned from, so it is refused rather than misread.
FORMAT_VERSION = 3


class FrequencyLogisticModel(TweetClassifier):
    """Logistic regression over smoothed word-frequency features (scikit-learn style).

    The logistic regression is fitted on cross-fitted features: each training
    tweet is described by a frequency table that never saw it, as a new tweet
    will be, so the weights are not tuned to overconfident in-sample ratios.
    The table kept for serving is then fitted on the whole training split.
    """

    def __init__(
        self,
        alpha: float = 3.0,
        C: float = 1.0,
        folds: int = 5,
        mark_negation: bool = True,
    ) -> None:
        self.alpha = alpha
        self.C = C
        self.folds = folds
        self.mark_negation = mark_negation

    def get_params(self, deep: bool = True) -> Params:
        """Return the constructor settings, as stored in the artifact."""
        return {
            "alpha": self.alpha,
            "C": self.C,
            "folds": self.folds,
            "mark_negation": self.mark_negation,
        }

    def fit(self, texts: Sequence[str], y: Targets) -> Self:
        """Learn the frequency table and the regression weights from raw tweets."""
        # Imported here: serving never fits, and scikit-learn costs every server process ~75 MiB.
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        docs = self._tokens(texts)
        y = np.asarray(y, dtype=int)
        features = np.zeros((len(docs), len(FEATURE_NAMES)))
        valence, boosters = vader_tables()
        splitter = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=0)
        for fit_idx, out_idx in splitter.split(np.zeros(len(y)), y):
            table = FrequencyFeaturizer(self.alpha, valence, boosters).fit(
                [docs[i] for i in fit_idx], y[fit_idx]
            )
            features[out_idx] = table.transform([docs[i] for i in out_idx])
        featurizer = FrequencyFeaturizer(self.alpha, valence, boosters).fit(docs, y)
        regression = LogisticRegression(C=self.C, max_iter=SOLVER_MAX_ITERATIONS, tol=SOLVER_TOLERANCE)
        regression.fit(features, y)
        self._set_weights(featurizer, regression.coef_[0], regression.intercept_[0])
        return self

    def _set_weights(
        self, featurizer: FrequencyFeaturizer, coef: NDArray[np.float64], intercept: float
    ) -> None:
        """Keep the fitted table and weights, and the scorer that folds them together for serving."""
        self.featurizer_ = featurizer
        self.coef_: NDArray[np.float64] = np.asarray(coef, dtype=float)
        self.coef_list_: list[float] = self.coef_.tolist()
        self.intercept_ = float(intercept)
        self.scorer_ = LinearScorer(featurizer, self.coef_list_, self.intercept_)

    def decision_function(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Return the log-odds of "Positive" for each raw tweet."""
        return np.array(self.log_odds(texts), dtype=float)

    def log_odds(self, texts: Sequence[str]) -> list[float]:
        """Return the log-odds as a list, computed in plain Python (see ``LinearScorer``).

        Without numpy: its per-call overhead costs more than the arithmetic for small
        batches, and the same arithmetic for every batch size keeps a tweet's score
        independent of its batch.
        """
        return self.scorer_.scores(self._tokens(texts))

    def attributions(self, texts: Sequence[str]) -> list[Attribution]:
        """Return, per raw tweet, its log-odds split over its words, the intercept and the length feature."""
        out: list[Attribution] = []
        coef, intercept = self.coef_list_, self.intercept_
        for text in texts:
            traced, _ = preprocess_traced(text, self.mark_negation)
            tokens = [t[0] for t in traced]
            shares, other = self.featurizer_.contributions(tokens, coef)
            [row] = self.featurizer_.rows([tokens])
            score = sum(map(mul, coef, row), intercept)
            out.append(Attribution([t[1] for t in traced], shares, intercept, other, score))
        return out

    def unknown_shares(self, texts: Sequence[str]) -> list[float]:
        """Return, per raw tweet, the share of its tokens without a learnt log-ratio (0.0 for none)."""
        ratios = self.featurizer_.log_ratio_
        return [unknown_share(tokens, ratios) for tokens in self._tokens(texts)]

    def _tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """Preprocess raw tweets into token lists."""
        return [preprocess(text, self.mark_negation) for text in texts]

    def to_dict(self) -> JSONObject:
        """Return the fitted model as plain JSON-ready data (no code, no pickle)."""
        return artifact_header(FORMAT, FORMAT_VERSION, self.get_params()) | {
            "feature_names": list(FEATURE_NAMES),
            "coef": [float(c) for c in self.coef_],
            "intercept": self.intercept_,
            "log_ratio": self.featurizer_.log_ratio_,
            "pair_log_ratio": self.featurizer_.pair_ratio_,
            "valence": self.featurizer_.lexicon.valence,
            "boosters": self.featurizer_.lexicon.boosters,
        }

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        """Rebuild a fitted model from ``to_dict`` output, checking every field."""
        try:
            check_header(data, FORMAT, FORMAT_VERSION)
            _check(data.get("feature_names") == list(FEATURE_NAMES), "feature_names differ")
            model = cls(**data["params"])
            coef = np.array(data["coef"], dtype=float)
            _check(coef.shape == (len(FEATURE_NAMES),), "coef has the wrong length")
            keys = ("log_ratio", "pair_log_ratio", "valence", "boosters")
            ratios, pair_ratios, valence, boosters = (_table(data, key) for key in keys)
            featurizer = FrequencyFeaturizer(model.alpha, valence, boosters)
            featurizer.log_ratio_ = ratios
            featurizer.set_pair_ratios(pair_ratios)
            model._set_weights(featurizer, coef, data["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"malformed {FORMAT} model: {exc!r}") from exc
        return model


def _table(data: JSONObject, key: str) -> dict[str, float]:
    """Return ``data[key]`` after checking it maps tokens to finite numbers."""
    table = data[key]
    _check(isinstance(table, dict), f"{key} is not an object")
    _check(
        all(isinstance(v, float) and math.isfinite(v) for v in table.values()),
        f"{key} values must be finite numbers",
    )
    return dict(table)


def _check(condition: bool, message: str) -> None:
    """Raise ValueError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ValueError(message)
