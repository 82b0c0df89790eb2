"""Evaluate the saved model on the held-out split: metrics and plots."""

from pathlib import Path

# Figure without pyplot: no global figure state and no display backend needed.
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from model import artifacts
from model.data import fixed_split, read_rows
from model.metrics import classification_metrics


def evaluate(data_path, artifact_dir, out_dir, *, train_per_class, name=None):
    """Score the verified saved model on the held-out rows; write PNGs; return the metrics."""
    model, entry = artifacts.load(artifact_dir, name)
    split = fixed_split(read_rows(data_path), train_per_class)
    probabilities = model.predict_proba(split.test_texts)
    metrics = classification_metrics(split.test_labels, probabilities)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics["plots"] = {
        "confusion_matrix": str(_plot_confusion(split.test_labels, probabilities, entry, out_dir)),
        "roc_curve": str(_plot_roc(split.test_labels, probabilities, entry, out_dir)),
    }
    metrics["model"] = {"name": name or artifacts.DEFAULT_MODEL, "version": entry["version"]}
    return metrics


def _plot_confusion(labels, probabilities, entry, out_dir):
    """Write the held-out confusion matrix as PNG; return its path."""
    figure = Figure(figsize=(4.5, 4))
    axes = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        labels,
        [int(p > 0.5) for p in probabilities],
        display_labels=["Negative", "Positive"],
        cmap="Blues",
        ax=axes,
        colorbar=False,
    )
    axes.set_title(f"Held-out confusion matrix\n{entry['version']}")
    return _save(figure, out_dir / "confusion_matrix.png")


def _plot_roc(labels, probabilities, entry, out_dir):
    """Write the held-out ROC curve as PNG; return its path."""
    figure = Figure(figsize=(4.5, 4))
    axes = figure.subplots()
    RocCurveDisplay.from_predictions(labels, probabilities, name=entry["version"], ax=axes)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set_title("Held-out ROC curve")
    return _save(figure, out_dir / "roc_curve.png")


def _save(figure, path):
    """Save and close a figure; return its path."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path
