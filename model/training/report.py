"""Write an Evaluation as one Markdown report with PNG plots (model.training.plots) beside it."""

from pathlib import Path

from model.paths import AnyPath
from model.serving.labels import LABELS
from model.training.behaviour_report import behaviour_section
from model.training.evaluate import CALIBRATION_BINS, Evaluation, ModelResult
from model.training.markdown import md_cell, table
from model.training.metrics import SCORES, THRESHOLD, Metrics
from model.training.plots import Plots, write_plots

REPORT = "report.md"
GOOD_ECE = 0.05


def write_report(evaluation: Evaluation, out_dir: AnyPath) -> Path:
    """Write the plots and ``report.md`` into ``out_dir``; return the report's path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    plots = write_plots(evaluation, folder)
    sections = (
        _header(evaluation),
        _metrics_section(evaluation),
        _cv_section(evaluation),
        _calibration_section(evaluation, plots),
        _confusion_roc_section(evaluation, plots),
        _errors_section(evaluation),
        behaviour_section(evaluation),
    )
    path = folder / REPORT
    path.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return path


def _model_label(evaluation: Evaluation, name: str) -> str:
    """Return the model's escaped name, starred when it is the manifest's default."""
    return md_cell(name) + (" ★" if name == evaluation.default_name else "")


def _header(evaluation: Evaluation) -> str:
    """Title and provenance: data file and hash, split, model versions, manifest time."""
    split = evaluation.split
    recorded = {r.entry["training_data"]["sha256"] for r in evaluation.results.values()}
    if recorded == {evaluation.data_sha256}:
        hash_note = "matches the training data recorded in the manifest"
    else:
        hash_note = (
            "**differs from the training data recorded in the manifest "
            f"({', '.join(sorted(md_cell(h[:12]) for h in recorded))}…): these are not the held-out tweets "
            "the models were trained around**"
        )
    positives = sum(split.test_labels)
    described = {md_cell(r.entry["training_data"].get("split", "")) for r in evaluation.results.values()}
    versions = ", ".join(
        f"{md_cell(name)} {md_cell(r.entry['version'])}"
        + (" (default)" if name == evaluation.default_name else "")
        for name, r in evaluation.results.items()
    )
    return "\n".join(
        [
            "# Sentiment model evaluation",
            "",
            f"- **Data:** {md_cell(evaluation.data_path.name)}, SHA-256 `{evaluation.data_sha256}`",
            f"  ({hash_note})",
            f"- **Split:** {'; '.join(sorted(described))}: {len(split.train_texts):,} training tweets, "
            f"{len(split.test_texts):,} held out ({len(split.test_texts) - positives:,} Negative, "
            f"{positives:,} Positive)",
            f"- **Models:** {versions}",
            f"- **Manifest created:** {md_cell(evaluation.manifest_created)}",
            f"- **Decision rule:** Positive when P(Positive) > {THRESHOLD}; Positive is the positive class "
            "for precision, recall and F1",
        ]
    )


def _metrics_section(evaluation: Evaluation) -> str:
    """Held-out metrics of every model, computed now, and whether they match the manifest's."""
    rows = []
    for name, result in evaluation.results.items():
        values = [f"{result.metrics[key]:.4f}" for key, _ in SCORES]
        rows.append([_model_label(evaluation, name), md_cell(result.entry["version"]), *values])
    header = ["Model", "Version", *(title for _, title in SCORES)]
    notes = [_recorded_note(name, result) for name, result in evaluation.results.items()]
    return "\n".join(
        [
            "## Held-out metrics",
            "",
            "Computed now from the loaded, hash-verified model files on the "
            f"{len(evaluation.split.test_texts):,} held-out tweets. ★ marks the manifest's default model "
            "(the one the API serves). Brier score: mean squared error of P(Positive), lower is better; "
            "always answering 0.5 scores 0.25.",
            "",
            table(header, rows),
            "",
            *notes,
        ]
    )


def _recorded_note(name: str, result: ModelResult) -> str:
    """Return one line saying whether fresh metrics equal those recorded at training time."""
    recorded = result.entry.get("metrics", {})
    differing = [
        f"{key} {recorded[key]} → {result.metrics[key]}"
        for key, _ in SCORES
        if key in recorded and abs(float(recorded[key]) - result.metrics[key]) > 1e-4
    ]
    if differing:
        return f"- {md_cell(name)}: **differs from the manifest**: {md_cell('; '.join(differing))}"
    return f"- {md_cell(name)}: same as recorded in the manifest at training time."


def _cv_section(evaluation: Evaluation) -> str:
    """Each model's cross-validation summary from the manifest, one small table per model."""
    parts = [
        "## Cross-validation on the training split",
        "",
        "Each model's setting was chosen by stratified k-fold cross-validation on the training tweets only; "
        "the held-out tweets above played no part in the choice. Figures are from the manifest, "
        "recorded by `make train`. **Bold** is the chosen setting.",
    ]
    for name, result in evaluation.results.items():
        parts += ["", f"### {_model_label(evaluation, name)}", ""]
        cv = result.entry.get("metrics", {}).get("cross_validation")
        if not cv:
            parts.append("No cross-validation recorded: the setting was fixed on the command line.")
            continue
        chosen = result.entry.get("params", {}).get(cv["param"])
        parts.append(
            f"{cv['folds']}-fold CV accuracy of the chosen {md_cell(cv['param'])} = {md_cell(chosen)}: "
            f"**{cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f}** (mean ± std over folds)."
        )
        rows = []
        for setting, accuracy in cv["accuracy_by_setting"].items():
            is_chosen = chosen is not None and float(setting) == float(chosen)
            cells = [md_cell(setting), f"{accuracy:.4f}"]
            rows.append([f"**{cell}**" for cell in cells] if is_chosen else cells)
        parts += ["", table([md_cell(cv["param"]), "Mean CV accuracy"], rows)]
    return "\n".join(parts)


def _calibration_verdict(metrics: Metrics) -> str:
    """Return a short judgement of one model's calibration from its ECE and mean confidence."""
    gap = metrics["mean_confidence"] - metrics["accuracy"]
    lean = "over-confident" if gap > 0 else "under-confident"
    detail = f"(mean confidence {abs(gap):.3f} {'above' if gap > 0 else 'below'} accuracy)"
    if metrics["ece"] < GOOD_ECE:
        return f"good (ECE < {GOOD_ECE}); slightly {lean} {detail}"
    return f"**poor (ECE ≥ {GOOD_ECE})**; {lean} {detail}"


def _calibration_section(evaluation: Evaluation, plots: Plots) -> str:
    """Brier, ECE and a verdict per model, then the reliability diagram."""
    rows = [
        [
            _model_label(evaluation, name),
            f"{r.metrics['brier']:.4f}",
            f"{r.metrics['ece']:.4f}",
            f"{r.metrics['mean_confidence']:.4f}",
            f"{r.metrics['accuracy']:.4f}",
            _calibration_verdict(r.metrics),
        ]
        for name, r in evaluation.results.items()
    ]
    header = ["Model", "Brier", "ECE", "Mean confidence", "Accuracy", "Calibration"]
    return "\n".join(
        [
            "## Calibration",
            "",
            "Expected calibration error (ECE): held-out tweets are put in "
            f"{CALIBRATION_BINS} equal-width bins of P(Positive); ECE is the tweet-weighted mean gap between "
            "each bin's share of Positive tweets and its mean P(Positive). Here calibration counts as good "
            f"when ECE < {GOOD_ECE}. Mean confidence is the mean of max(P, 1 - P): above accuracy means the "
            "model is over-confident. "
            "Reported only: the models are not recalibrated here.",
            "",
            table(header, rows),
            "",
            f"![Reliability diagram and histogram of P(Positive)]({plots['calibration'].name})",
        ]
    )


def _confusion_roc_section(evaluation: Evaluation, plots: Plots) -> str:
    """Confusion matrix per model and one ROC plot with every model."""
    rows, images = [], []
    for name, result in evaluation.results.items():
        (tn, fp), (fn, tp) = result.metrics["confusion_matrix"]
        rows.append([_model_label(evaluation, name), tn, fp, fn, tp])
        images.append(f"![Confusion matrix of {md_cell(name)}]({plots['confusion'][name].name})")
    return "\n".join(
        [
            "## Confusion matrices and ROC curves",
            "",
            table(["Model", "TN", "FP", "FN", "TP"], rows),
            "",
            " ".join(images),
            "",
            f"![ROC curves of every model]({plots['roc'].name})",
        ]
    )


def _errors_section(evaluation: Evaluation) -> str:
    """The held-out tweets each model gets wrong most confidently, with every model's P(Positive)."""
    split, results = evaluation.split, evaluation.results
    parts = [
        "## Error analysis",
        "",
        "For each model, the held-out tweets it misclassifies with P(Positive) furthest from "
        f"{THRESHOLD}, with every model's P(Positive) beside them: an error all models make with "
        "confidence often points at a doubtful label rather than a model weakness. Tweets are shown as "
        "they appear in the public training data set, escaped for Markdown (↵ marks a line break).",
    ]
    header = ["#", "True label", *(f"P(Positive) {md_cell(name)}" for name in results), "Tweet"]
    for name, result in results.items():
        rows = [
            [
                rank,
                LABELS[split.test_labels[index]],
                *(f"{other.probabilities[index]:.3f}" for other in results.values()),
                md_cell(split.test_texts[index]),
            ]
            for rank, index in enumerate(result.errors, 1)
        ]
        shared = sum(all(index in other.errors for other in results.values()) for index in result.errors)
        parts += ["", f"### {_model_label(evaluation, name)}", ""]
        if len(results) > 1:
            parts += [f"{shared} of these {len(rows)} are in every model's list.", ""]
        parts.append(table(header, rows) if rows else "No errors.")
    return "\n".join(parts)
