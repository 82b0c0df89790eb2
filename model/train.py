"""Train the served model on the fixed split and write versioned artifacts."""

from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from model import artifacts
from model.classifier import FrequencyLogisticModel
from model.data import fixed_split, read_rows, sha256_file
from model.metrics import classification_metrics

# Candidate smoothing strengths, chosen between by cross-validation on the
# training split only: the held-out part is never used to pick a setting.
ALPHA_GRID = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
CV_FOLDS = 5


def cross_validate_alpha(texts, labels, grid=ALPHA_GRID, C=1.0, folds=CV_FOLDS):
    """Return ``{alpha: mean CV accuracy}`` over stratified folds of the training texts."""
    texts = np.asarray(texts, dtype=object)
    labels = np.asarray(labels, dtype=int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=1)
    scores = {}
    for alpha in grid:
        accuracies = []
        for fit_idx, val_idx in splitter.split(texts, labels):
            model = FrequencyLogisticModel(alpha=alpha, C=C).fit(list(texts[fit_idx]), labels[fit_idx])
            accuracies.append(float(np.mean(model.predict(list(texts[val_idx])) == labels[val_idx])))
        scores[alpha] = round(float(np.mean(accuracies)), 4)
    return scores


def train(data_path, out_dir, *, train_per_class, alpha=None, C=1.0, created=None):
    """Fit on the training part of ``data_path``, score the held-out part, save; return the manifest entry.

    With ``alpha=None`` the smoothing is chosen by cross-validation on the training part.
    """
    split = fixed_split(read_rows(data_path), train_per_class)
    cv_scores = None
    if alpha is None:
        cv_scores = cross_validate_alpha(split.train_texts, split.train_labels, C=C)
        # Ties go to the smaller alpha: the grid is ascending and max keeps the first.
        alpha = max(cv_scores, key=cv_scores.get)
    model = FrequencyLogisticModel(alpha=alpha, C=C).fit(split.train_texts, split.train_labels)
    metrics = classification_metrics(split.test_labels, model.predict_proba(split.test_texts))
    if cv_scores is not None:
        metrics["cv_accuracy_by_alpha"] = {str(a): s for a, s in cv_scores.items()}
    training_data = {
        "file": Path(data_path).name,
        "sha256": sha256_file(data_path),
        "split": f"file order: first {train_per_class} rows of each class train, the rest held out",
        "train_rows": len(split.train_texts),
        "heldout_rows": len(split.test_texts),
    }
    return artifacts.save(
        model,
        out_dir,
        name=artifacts.DEFAULT_MODEL,
        metrics=metrics,
        training_data=training_data,
        created=created,
    )
