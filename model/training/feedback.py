"""Labelled feedback rows (the API's export) added to the training part of the fixed split."""

from dataclasses import replace
from pathlib import Path

from model.paths import AnyPath
from model.serving.labels import LABELS
from model.training.data import Split, read_labelled, sha256_file


def read_feedback(path: AnyPath) -> list[tuple[str, int]]:
    """Return (text, 0/1 label) pairs from a CSV with columns id,text,label (Positive/Negative)."""
    # Named as the API names them, Positive first, as the messages list them.
    labels = {label: LABELS.index(label) for label in ("Positive", "Negative")}
    return read_labelled(path, ("text", "label"), labels, "feedback file not found: {}")


def with_feedback(split: Split, path: AnyPath) -> tuple[Split, dict[str, object]]:
    """Return ``split`` with the feedback rows appended to its training part, and what to record of them.

    The held-out part is never touched: its accuracy stays comparable across retrainings.
    """
    rows = read_feedback(path)
    grown = replace(
        split,
        train_texts=split.train_texts + [text for text, _ in rows],
        train_labels=split.train_labels + [label for _, label in rows],
    )
    return grown, {"file": Path(path).name, "sha256": sha256_file(path), "rows": len(rows)}
