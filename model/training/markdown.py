"""Markdown for the evaluation report: tweet text escaped into one literal table cell, and tables."""

import re
import unicodedata
from collections.abc import Iterable, Sequence

# Backslash-escaped so tweet text shows as typed: no emphasis, links, HTML, entities or broken table cells.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~!#])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def md_cell(text: object) -> str:
    """Return ``text`` as one literal Markdown table cell: one line, escaped, no control characters."""
    line = _LINE_BREAK.sub(" ↵ ", str(text))
    line = "".join(ch for ch in line if unicodedata.category(ch) != "Cc")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Return a Markdown table; cells must already be escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])
