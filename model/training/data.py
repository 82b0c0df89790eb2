"""Reading the labelled tweet set and the fixed evaluation split."""

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from model.errors import DataError

TRAIN_PER_CLASS = 4000
REQUIRED_COLUMNS = ("text", "target")


@dataclass(frozen=True)
class Split:
    """Texts and 0/1 labels of the training and held-out parts."""

    train_texts: list
    train_labels: list
    test_texts: list
    test_labels: list


def sha256_file(path):
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_rows(path):
    """Return (text, label) pairs in file order from a CSV with text and target columns."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data set not found: {path} (pass --data PATH)")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = []
        for line, record in enumerate(reader, start=2):
            if record["target"] not in ("0", "1"):
                raise DataError(f"{path}:{line}: target must be 0 or 1, got {record['target']!r}")
            rows.append((record["text"], int(record["target"])))
    return rows


def fixed_split(rows, train_per_class=TRAIN_PER_CLASS):
    """Split in file order: the first ``train_per_class`` of each class train, the rest are held out."""
    seen = {0: 0, 1: 0}
    train, test = [], []
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
