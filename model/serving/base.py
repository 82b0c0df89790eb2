"""What every model kind shares: its answers derived from its log-odds, and the artifact interface.

Each kind states only how it turns tweets into log-odds (``decision_function``)
and how it is saved; P(Positive), the 0/1 class and the label follow from the
log-odds by the one rule of ``model.serving.labels``, written here once for both.
"""

from abc import ABC, abstractmethod
from collections.abc import Container, Sequence
from typing import Any, NamedTuple, Self

import numpy as np
from numpy.typing import NDArray

from model.serving.labels import class_of, label_of, sigmoid

# A parsed JSON object (a model file, the manifest, an entry of it): its fields are checked where read.
JSONObject = dict[str, Any]
# A model's constructor settings, as its artifact and the manifest record them.
Params = dict[str, float | int | bool]
# The 0/1 labels (1: Positive) a model is fitted to.
Targets = Sequence[int] | NDArray[np.int_]
# How far each kind's logistic regression is solved (L-BFGS: the gradient's largest component, and a cap on
# iterations it never reaches). scikit-learn's default, 1e-4, stopped nblr where its weights still moved by
# 1% with the order of a sum: one BLAS thread or two gave models 0.001 apart in held-out accuracy. Solved
# this far, they agree within 3e-5 (tests/model/test_artifacts.py), and training takes twice as long.
SOLVER_TOLERANCE = 1e-10
SOLVER_MAX_ITERATIONS = 30_000


class Attribution(NamedTuple):
    """One tweet's log-odds split exactly: per token, the text the user wrote and its share; the rest."""

    words: list[str]
    contributions: list[float]
    intercept: float
    other: float
    # The tweet's log-odds from the same feature pass (equal to ``log_odds`` within rounding).
    log_odds: float


class TweetClassifier(ABC):
    """A binary tweet classifier in scikit-learn's style: ``fit``, ``decision_function``, ``predict``."""

    @abstractmethod
    def get_params(self, deep: bool = True) -> Params:
        """Return the constructor settings, as stored in the artifact."""

    @abstractmethod
    def fit(self, texts: Sequence[str], y: Targets) -> Self:
        """Learn from raw tweets and their 0/1 labels; return the fitted model."""

    @abstractmethod
    def decision_function(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Return the log-odds of "Positive" for each raw tweet."""

    @abstractmethod
    def unknown_shares(self, texts: Sequence[str]) -> list[float]:
        """Return, per raw tweet, the share of its tokens the model never saw in training (0.0 for none)."""

    @abstractmethod
    def attributions(self, texts: Sequence[str]) -> list[Attribution]:
        """Return, per raw tweet, its log-odds split over its words, the intercept and word-free features."""

    @abstractmethod
    def to_dict(self) -> JSONObject:
        """Return the fitted model as plain JSON-ready data (no code, no pickle)."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: JSONObject) -> Self:
        """Rebuild a fitted model from ``to_dict`` output, checking every field."""

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Return P(Positive) for each raw tweet (one column: the Negative one is 1 - P)."""
        return np.array([sigmoid(score) for score in self.log_odds(texts)], dtype=float)

    def predict(self, texts: Sequence[str]) -> NDArray[np.int_]:
        """Return 1 (Positive) or 0 (Negative) for each raw tweet."""
        return np.array([class_of(score) for score in self.log_odds(texts)], dtype=int)

    def predict_labels(self, texts: Sequence[str]) -> list[str]:
        """Return "Positive" or "Negative" for each raw tweet."""
        return [label_of(score) for score in self.log_odds(texts)]

    def log_odds(self, texts: Sequence[str]) -> list[float]:
        """Return ``decision_function`` as a list of Python floats, as scoring and labels.py take them."""
        scores: list[float] = self.decision_function(texts).tolist()
        return scores


def unknown_share(tokens: Sequence[str], known: Container[str]) -> float:
    """Return the share of ``tokens`` not in ``known`` (0.0 for no tokens)."""
    if not tokens:
        return 0.0
    return len([token for token in tokens if token not in known]) / len(tokens)


def artifact_header(format_name: str, version: int, params: Params) -> JSONObject:
    """Return the fields every model file starts with: its format, the format's version, the settings."""
    return {"format": format_name, "format_version": version, "params": params}


def check_header(data: JSONObject, format_name: str, version: int) -> None:
    """Raise ValueError unless ``data`` is a model file of ``format_name`` at ``version``."""
    if data.get("format") != format_name:
        raise ValueError(f"format is not {format_name}")
    if data.get("format_version") != version:
        raise ValueError(f"unsupported format_version (this code reads {version})")
