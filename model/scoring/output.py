"""The one place scored rows are formatted: CSV ``id,label[,score]`` or NDJSON objects, header and rows.

``python -m model score`` and the API's job workers both write through it, so that a job's result is
byte-identical to the command's output for the same file and options.
"""

import csv
import io
import json
from typing import Literal, get_args

from model.serving.labels import label_of, sigmoid

OutputFormat = Literal["csv", "ndjson"]
FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)

# File name endings read as NDJSON when no format is given; any other is CSV.
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
# Compact, and the same bytes wherever a row is written.
_SEPARATORS = (",", ":")


def format_of(path: str, default: OutputFormat = "csv") -> OutputFormat:
    """Return the format a file name says (.ndjson/.jsonl: ndjson, .csv: csv), else ``default``."""
    lowered = path.lower()
    if lowered.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    return "csv" if lowered.endswith(".csv") else default


def header(fmt: OutputFormat, detail: bool) -> str:
    """Return what starts an output file: the CSV header row, or nothing for NDJSON."""
    if fmt == "ndjson":
        return ""
    return "id,label,score\n" if detail else "id,label\n"


def format_rows(fmt: OutputFormat, detail: bool, ids: list[str], log_odds: list[float]) -> str:
    """Return the output lines of one scored chunk: each id, its label and (with ``detail``) P(Positive)."""
    labels = map(label_of, log_odds)
    if fmt == "ndjson":
        if detail:
            rows = (
                {"id": key, "label": label, "score": sigmoid(x)}
                for key, label, x in zip(ids, labels, log_odds, strict=True)
            )
        else:
            rows = ({"id": key, "label": label} for key, label in zip(ids, labels, strict=True))
        return "".join(json.dumps(row, ensure_ascii=False, separators=_SEPARATORS) + "\n" for row in rows)
    # csv.writer itself, so that quoting and the floats' digits are what the command always wrote.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if detail:
        writer.writerows(zip(ids, labels, map(sigmoid, log_odds), strict=True))
    else:
        writer.writerows(zip(ids, labels, strict=True))
    return out.getvalue()
