"""Labelled feedback rows (the API's export) added to the training part of the fixed split."""

import csv
from dataclasses import replace
from pathlib import Path

from model.errors import DataError
from model.paths import AnyPath
from model.serving.labels import LABELS
from model.training.data import Split, sha256_file

FEEDBACK_COLUMNS = ("id", "text", "label")


def read_feedback(path: AnyPath) -> list[tuple[str, int]]:
    """Return (text, 0/1 label) pairs from a CSV with columns id,text,label (Positive/Negative)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"feedback file not found: {file}")
    with file.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in FEEDBACK_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{file}: missing column(s) {', '.join(missing)}")
        rows: list[tuple[str, int]] = []
        for line, record in enumerate(reader, start=2):
            if record["label"] not in LABELS:
                raise DataError(f"{file}:{line}: label must be Positive or Negative, got {record['label']!r}")
            rows.append((record["text"], LABELS.index(record["label"])))
    return rows


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
