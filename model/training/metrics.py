"""Held-out metrics, computed with scikit-learn, and the decision rule they judge."""

from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

# Positive when P(Positive) is above this: the probability form of labels.py's rule (log-odds above 0).
THRESHOLD = 0.5

# The metrics that are one number between 0 and 1 (Brier: lower is better; the others: higher).
Score = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "brier"]
# Those metrics in the order tables show them, with their titles.
SCORES: tuple[tuple[Score, str], ...] = (
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
    ("brier", "Brier"),
)


class CrossValidation(TypedDict):
    """How a model's setting was chosen: mean accuracy per candidate over stratified folds."""

    folds: int
    param: str
    accuracy_by_setting: dict[str, float]
    accuracy_mean: float
    accuracy_std: float


class Metrics(TypedDict):
    """One model's held-out metrics, as the manifest records them and the report shows them."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float
    brier: float
    support: int
    confusion_matrix: list[list[int]]
    # Added by training when the setting was chosen by cross-validation:
    cross_validation: NotRequired[CrossValidation]
    # Added by evaluation: calibration.
    ece: NotRequired[float]
    mean_confidence: NotRequired[float]


def predicted_classes(probabilities: ArrayLike) -> NDArray[np.int_]:
    """Return 1 (Positive) or 0 (Negative) for each P(Positive)."""
    return (np.asarray(probabilities, dtype=float) > THRESHOLD).astype(int)


def classification_metrics(labels: Sequence[int], probabilities: ArrayLike) -> Metrics:
    """Return accuracy, precision, recall, F1 (Positive is the positive class) and ROC AUC."""
    predicted = predicted_classes(probabilities)
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "precision": round(float(precision_score(labels, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(labels, predicted, zero_division=0)), 4),
        "f1": round(float(f1_score(labels, predicted, zero_division=0)), 4),
        "roc_auc": round(float(roc_auc_score(labels, probabilities)), 4),
        "brier": round(float(brier_score_loss(labels, probabilities)), 4),
        "support": len(labels),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }
