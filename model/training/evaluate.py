"""Evaluate every saved model on the held-out split: metrics, calibration and the worst errors.

This module only computes; ``model.training.report`` turns the result into Markdown and plots.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from model.paths import AnyPath
from model.serving import artifacts
from model.serving.base import JSONObject, TweetClassifier
from model.training import behaviour
from model.training.behaviour import Outcome
from model.training.data import Split, fixed_split, read_rows, sha256_file
from model.training.metrics import THRESHOLD, Metrics, classification_metrics, predicted_classes

CALIBRATION_BINS = 10
ERRORS_SHOWN = 10


@dataclass(frozen=True)
class ModelResult:
    """One model's held-out scores (entry, P(Positive), metrics, worst errors) and its behaviour cases."""

    name: str
    entry: JSONObject
    probabilities: NDArray[np.float64]
    metrics: Metrics
    errors: list[int]
    behaviour: list[Outcome]


@dataclass(frozen=True)
class Evaluation:
    """Everything a report needs: where the data came from, the split and each model's result."""

    data_path: Path
    data_sha256: str
    manifest_created: str
    default_name: str
    split: Split
    results: dict[str, ModelResult]


def expected_calibration_error(
    labels: Sequence[int], probabilities: ArrayLike, bins: int = CALIBRATION_BINS
) -> float:
    """Return the ECE: the count-weighted mean |positive rate - mean P(Positive)| over equal-width bins."""
    truth = np.asarray(labels, dtype=float)
    p_positive = np.asarray(probabilities, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Same bin assignment as sklearn.calibration.calibration_curve, so the ECE describes the diagram.
    ids = np.searchsorted(edges[1:-1], p_positive)
    # Weighting each bin's |rate - mean P| by its share n_b / N is |positives_b - sum P_b| / N.
    positives = np.bincount(ids, weights=truth, minlength=bins)
    predicted = np.bincount(ids, weights=p_positive, minlength=bins)
    return float(np.sum(np.abs(positives - predicted)) / len(truth))


def confident_errors(labels: Sequence[int], probabilities: ArrayLike, count: int = ERRORS_SHOWN) -> list[int]:
    """Return the indices of the ``count`` misclassified tweets with P(Positive) furthest from 0.5."""
    p_positive = np.asarray(probabilities, dtype=float)
    wrong = np.flatnonzero(predicted_classes(p_positive) != np.asarray(labels, dtype=int))
    # Stable sort: equally confident errors keep file order, so the report is reproducible.
    order = wrong[np.argsort(-np.abs(p_positive[wrong] - THRESHOLD), kind="stable")]
    return [int(i) for i in order[:count]]


def _score(name: str, model: TweetClassifier, entry: JSONObject, split: Split) -> ModelResult:
    """Score one model on the held-out texts; return its ModelResult."""
    probabilities = model.predict_proba(split.test_texts)
    metrics = classification_metrics(split.test_labels, probabilities)
    metrics["ece"] = round(expected_calibration_error(split.test_labels, probabilities), 4)
    # Mean confidence above accuracy means over-confident, below means under-confident.
    metrics["mean_confidence"] = round(float(np.mean(np.maximum(probabilities, 1 - probabilities))), 4)
    errors = confident_errors(split.test_labels, probabilities)
    return ModelResult(
        name, entry, probabilities, metrics, errors, behaviour.run(model, behaviour.load_cases())
    )


def evaluate(data_path: AnyPath, artifact_dir: AnyPath, *, train_per_class: int) -> Evaluation:
    """Load every model of the manifest (each hash-verified) and score it on the held-out rows."""
    models, default_name = artifacts.load_all(artifact_dir)
    # The manifest was read and checked by load_all just above; this is only for its creation time.
    created = artifacts.read_manifest(artifact_dir).get("created", "unknown")
    split = fixed_split(read_rows(data_path), train_per_class)
    results = {name: _score(name, model, entry, split) for name, (model, entry) in models.items()}
    return Evaluation(
        data_path=Path(data_path),
        data_sha256=sha256_file(data_path),
        manifest_created=created,
        default_name=default_name,
        split=split,
        results=results,
    )
