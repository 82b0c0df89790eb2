"""Reading the labelled tweet set and the fixed evaluation split."""

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from model.errors import DataError
from model.paths import AnyPath

TRAIN_PER_CLASS = 4000
REQUIRED_COLUMNS = ("text", "target")


@dataclass(frozen=True)
class Split:
    """Texts and 0/1 labels of the training and held-out parts."""

    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]


def sha256_file(path: AnyPath) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_rows(path: AnyPath) -> list[tuple[str, int]]:
    """Return (text, label) pairs in file order from a CSV with text and target columns."""
    return read_labelled(
        path, REQUIRED_COLUMNS, {"0": 0, "1": 1}, "data set not found: {} (pass --data PATH)"
    )


def read_labelled(
    path: AnyPath, columns: tuple[str, str], labels: Mapping[str, int], not_found: str
) -> list[tuple[str, int]]:
    """Return (text, 0/1 label) pairs in file order from a CSV whose ``columns`` are its text and its label.

    ``labels`` maps each value the label column may hold to 0 or 1; ``not_found`` is the message of a
    missing file, ``{}`` standing for its path. Any other column is ignored.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(not_found.format(file))
    text_column, label_column = columns
    with file.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{file}: missing column(s) {', '.join(missing)}")
        rows: list[tuple[str, int]] = []
        for line, record in enumerate(reader, start=2):
            value = record[label_column]
            if value not in labels:
                allowed = " or ".join(labels)
                raise DataError(f"{file}:{line}: {label_column} must be {allowed}, got {value!r}")
            rows.append((record[text_column], labels[value]))
    return rows


def fixed_split(rows: Iterable[tuple[str, int]], train_per_class: int = TRAIN_PER_CLASS) -> Split:
    """Split in file order: the first ``train_per_class`` of each class train, the rest are held out."""
    seen = {0: 0, 1: 0}
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for text, label in rows:
        seen[label] += 1
        (train if seen[label] <= train_per_class else test).append((text, label))
    for label, count in seen.items():
        if count <= train_per_class:
            raise DataError(f"class {label} has {count} rows; the split needs more than {train_per_class}")
    return Split(
        train_texts=[t for t, _ in train],
        train_labels=[y for _, y in train],
        test_texts=[t for t, _ in test],
        test_labels=[y for _, y in test],
    )
