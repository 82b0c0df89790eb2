"""The evaluation report's PNG plots: reliability diagram, ROC curves and a confusion matrix per model."""

import re
from pathlib import Path
from typing import TypedDict

import numpy as np

# Figure without pyplot: no global figure state and no display backend needed.
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from model.serving.labels import LABELS
from model.training.evaluate import CALIBRATION_BINS, Evaluation, ModelResult
from model.training.metrics import predicted_classes


class Plots(TypedDict):
    """Where each plot was written."""

    calibration: Path
    roc: Path
    confusion: dict[str, Path]


def write_plots(evaluation: Evaluation, out_dir: Path) -> Plots:
    """Write every plot of the report into ``out_dir``; return their paths."""
    return {
        "calibration": _plot_calibration(evaluation, out_dir / "calibration.png"),
        "roc": _plot_roc(evaluation, out_dir / "roc_curve.png"),
        "confusion": {
            name: _plot_confusion(
                result, evaluation.split.test_labels, out_dir / f"confusion_matrix_{_file_stem(name)}.png"
            )
            for name, result in evaluation.results.items()
        },
    }


def _file_stem(name: str) -> str:
    """Return a model name safe to use in a file name (the manifest names it, not us)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _plot_confusion(result: ModelResult, labels: list[int], path: Path) -> Path:
    """Write one model's held-out confusion matrix as PNG; return its path."""
    figure = Figure(figsize=(4.2, 3.8))
    axes = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        labels,
        predicted_classes(result.probabilities),
        labels=[0, 1],
        display_labels=list(LABELS),
        cmap="Blues",
        ax=axes,
        colorbar=False,
    )
    axes.set_title(f"{result.name} {result.entry['version']}\nheld-out confusion matrix")
    return _save(figure, path)


def _plot_roc(evaluation: Evaluation, path: Path) -> Path:
    """Write every model's held-out ROC curve on one plot as PNG; return its path."""
    figure = Figure(figsize=(5.2, 4.6))
    axes = figure.subplots()
    for name, result in evaluation.results.items():
        RocCurveDisplay.from_predictions(
            evaluation.split.test_labels,
            result.probabilities,
            name=f"{name} {result.entry['version']}",
            ax=axes,
        )
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.legend(loc="lower right")
    axes.set_title("Held-out ROC curves")
    return _save(figure, path)


def _plot_calibration(evaluation: Evaluation, path: Path) -> Path:
    """Write the reliability diagram with a histogram of P(Positive) below it as PNG; return its path."""
    figure = Figure(figsize=(5.6, 6.4))
    curve_axes, hist_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1.2)})
    curve_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    for name, result in evaluation.results.items():
        positive_rate, mean_predicted = calibration_curve(
            evaluation.split.test_labels, result.probabilities, n_bins=CALIBRATION_BINS, strategy="uniform"
        )
        line = curve_axes.plot(
            mean_predicted, positive_rate, marker="o", label=f"{name} (ECE {result.metrics['ece']:.3f})"
        )[0]
        hist_axes.hist(
            result.probabilities, bins=edges, histtype="step", linewidth=1.5, color=line.get_color()
        )
    curve_axes.set(ylabel="Share of Positive tweets", xlim=(0, 1), ylim=(0, 1))
    curve_axes.set_title(f"Held-out reliability diagram ({CALIBRATION_BINS} bins)")
    curve_axes.legend(loc="upper left")
    curve_axes.grid(alpha=0.3)
    hist_axes.set(xlabel="Predicted P(Positive)", ylabel="Tweets")
    hist_axes.grid(alpha=0.3)
    return _save(figure, path)


def _save(figure: Figure, path: Path) -> Path:
    """Save a figure as PNG; return its path."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path
