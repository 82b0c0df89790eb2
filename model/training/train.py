"""Train every model on the fixed split and write versioned artifacts."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from model.paths import AnyPath
from model.serving import artifacts, drift
from model.serving.base import JSONObject, TweetClassifier
from model.serving.classifier import FrequencyLogisticModel
from model.serving.nblr import NBLogisticModel
from model.training.data import Split, fixed_split, read_rows, sha256_file
from model.training.feedback import with_feedback
from model.training.metrics import CrossValidation, classification_metrics

CV_FOLDS = 5


@dataclass(frozen=True)
class Recipe:
    """How to train one model: its class, the setting chosen by cross-validation and its candidates."""

    model_class: Callable[..., TweetClassifier]
    param: str
    grid: tuple[float, ...]
    compress: bool = False

    def build(self, value: float) -> TweetClassifier:
        """Return an unfitted model with its tuned setting at ``value``."""
        return self.model_class(**{self.param: value})


# Settings are chosen by cross-validation on the training split only: the
# held-out part is never used to pick anything.
RECIPES = {
    "freqlr": Recipe(FrequencyLogisticModel, "alpha", (0.5, 1.0, 2.0, 3.0, 5.0, 8.0)),
    "nblr": Recipe(NBLogisticModel, "C", (1.0, 2.0, 4.0, 8.0), compress=True),
}


def cross_validate(
    recipe: Recipe, texts: Sequence[str], labels: Sequence[int], folds: int = CV_FOLDS
) -> dict[float, list[float]]:
    """Return ``{setting: [accuracy per fold]}`` over stratified folds of the training texts."""
    text_array = np.asarray(texts, dtype=object)
    y = np.asarray(labels, dtype=int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=1)
    scores: dict[float, list[float]] = {}
    for value in recipe.grid:
        scores[value] = []
        for fit_idx, val_idx in splitter.split(text_array, y):
            model = recipe.build(value).fit(list(text_array[fit_idx]), y[fit_idx])
            scores[value].append(float(np.mean(model.predict(list(text_array[val_idx])) == y[val_idx])))
    return scores


def _choose(recipe: Recipe, split: Split, fixed: float | None) -> tuple[float, CrossValidation | None]:
    """Return the setting to train with and the cross-validation summary (None when it was fixed)."""
    if fixed is not None:
        return fixed, None
    scores = cross_validate(recipe, split.train_texts, split.train_labels)
    means = {value: float(np.mean(folds)) for value, folds in scores.items()}
    # Ties go to the first (smaller, more regularised or smoothed) candidate.
    best = max(means, key=means.__getitem__)
    summary: CrossValidation = {
        "folds": CV_FOLDS,
        "param": recipe.param,
        "accuracy_by_setting": {str(v): round(m, 4) for v, m in means.items()},
        "accuracy_mean": round(means[best], 4),
        "accuracy_std": round(float(np.std(scores[best])), 4),
    }
    return best, summary


def train(
    data_path: AnyPath,
    out_dir: AnyPath,
    *,
    train_per_class: int,
    models: Iterable[str] = tuple(RECIPES),
    settings: Mapping[str, float] | None = None,
    created: str | None = None,
    feedback: AnyPath | None = None,
) -> dict[str, JSONObject]:
    """Fit each model on the training part of ``data_path``, score the held-out part, save them.

    ``settings`` maps a model name to a fixed value of its tuned setting; the
    others are chosen by cross-validation. ``feedback`` (a CSV of id,text,label)
    adds labelled rows to the training part only. Returns ``{name: manifest entry}``.
    """
    split = fixed_split(read_rows(data_path), train_per_class)
    training_data: JSONObject = {
        "file": Path(data_path).name,
        "sha256": sha256_file(data_path),
        "split": f"file order: first {train_per_class} rows of each class train, the rest held out",
        "train_rows": len(split.train_texts),
        "heldout_rows": len(split.test_texts),
    }
    if feedback is not None:
        split, training_data["feedback"] = with_feedback(split, feedback)
        training_data["train_rows"] = len(split.train_texts)
    entries: dict[str, JSONObject] = {}
    for name in models:
        recipe = RECIPES[name]
        value, cv = _choose(recipe, split, (settings or {}).get(name))
        model = recipe.build(value).fit(split.train_texts, split.train_labels)
        probabilities = model.predict_proba(split.test_texts)
        metrics = classification_metrics(split.test_labels, probabilities)
        # What the server's drift monitor compares live answers with (model.serving.drift).
        reference = drift.reference(probabilities.tolist(), model.unknown_shares(split.test_texts))
        if cv is not None:
            metrics["cross_validation"] = cv
        entries[name] = artifacts.save(
            model,
            out_dir,
            name=name,
            metrics=metrics,
            training_data=training_data,
            created=created,
            compress=recipe.compress,
            extra={"reference": reference},
        )
    return entries
