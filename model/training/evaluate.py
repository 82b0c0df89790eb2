"""Evaluate every saved model on the held-out split: metrics, calibration and the worst errors.

This module only computes; ``model.training.report`` turns the result into Markdown and plots.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.serving import artifacts
from model.training.data import Split, fixed_split, read_rows, sha256_file
from model.training.metrics import classification_metrics

CALIBRATION_BINS = 10
ERRORS_SHOWN = 10


@dataclass(frozen=True)
class ModelResult:
    """One model's held-out scores: manifest entry, P(Positive) per tweet, metrics, worst errors' indices."""

    name: str
    entry: dict
    probabilities: np.ndarray
    metrics: dict
    errors: list


@dataclass(frozen=True)
class Evaluation:
    """Everything a report needs: where the data came from, the split and each model's result."""

    data_path: Path
    data_sha256: str
    manifest_created: str
    default_name: str
    split: Split
    results: dict


def expected_calibration_error(labels, probabilities, bins=CALIBRATION_BINS):
    """Return the ECE: the count-weighted mean |positive rate - mean P(Positive)| over equal-width bins."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Same bin assignment as sklearn.calibration.calibration_curve, so the ECE describes the diagram.
    ids = np.searchsorted(edges[1:-1], probabilities)
    # Weighting each bin's |rate - mean P| by its share n_b / N is |positives_b - sum P_b| / N.
    positives = np.bincount(ids, weights=labels, minlength=bins)
    predicted = np.bincount(ids, weights=probabilities, minlength=bins)
    return float(np.sum(np.abs(positives - predicted)) / len(labels))


def confident_errors(labels, probabilities, count=ERRORS_SHOWN):
    """Return the indices of the ``count`` misclassified tweets with P(Positive) furthest from 0.5."""
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels, dtype=int)
    wrong = np.flatnonzero((probabilities > 0.5).astype(int) != labels)
    # Stable sort: equally confident errors keep file order, so the report is reproducible.
    order = wrong[np.argsort(-np.abs(probabilities[wrong] - 0.5), kind="stable")]
    return [int(i) for i in order[:count]]


def _score(name, model, entry, split):
    """Score one model on the held-out texts; return its ModelResult."""
    probabilities = np.asarray(model.predict_proba(split.test_texts), dtype=float)
    metrics = classification_metrics(split.test_labels, probabilities)
    metrics["ece"] = round(expected_calibration_error(split.test_labels, probabilities), 4)
    # Mean confidence above accuracy means over-confident, below means under-confident.
    metrics["mean_confidence"] = round(float(np.mean(np.maximum(probabilities, 1 - probabilities))), 4)
    errors = confident_errors(split.test_labels, probabilities)
    return ModelResult(name, entry, probabilities, metrics, errors)


def evaluate(data_path, artifact_dir, *, train_per_class):
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
