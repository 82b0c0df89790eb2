"""The two ends of a scoring run: the input CSV opened for decoding, the output that appears only whole.

``-`` names the standard streams: stdin for the input, stdout for the output.
"""

import codecs
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from model.errors import ScoreError

STANDARD_STREAM = "-"


def display(path: str, stream: str = "stdin") -> str:
    """Return how messages name a path (``-`` is ``<stdin>`` or ``<stdout>``)."""
    return f"<{stream}>" if path == STANDARD_STREAM else str(path)


@contextmanager
def open_input(path: str, encoding: str) -> Iterator[tuple[TextIO, BinaryIO, int | None]]:
    """Yield ``(text handle, binary handle, size in bytes or None)`` of the CSV at ``path``.

    Bytes invalid in ``encoding`` are kept as lone surrogates (``surrogateescape``), so
    that the reader can name the row they are in.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ScoreError(f"unknown encoding {encoding!r}") from exc
    raw, size = _open_binary(path)
    # utf-8-sig reads plain UTF-8 too, and drops the BOM spreadsheets write, which would
    # otherwise become part of the first column's name.
    handle = io.TextIOWrapper(
        raw, encoding="utf-8-sig" if codec == "utf-8" else codec, errors="surrogateescape", newline=""
    )
    try:
        yield handle, raw, size
    finally:
        if path == STANDARD_STREAM:
            handle.detach()  # stdin stays open for the rest of the process
        else:
            handle.close()


def _open_binary(path: str) -> tuple[BinaryIO, int | None]:
    """Return the binary handle of the input and its size (None for stdin or an empty file)."""
    if path == STANDARD_STREAM:
        return sys.stdin.buffer, None
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by open_input, after the text wrapper
    except OSError as exc:
        raise ScoreError(f"cannot read {path}: {exc.strerror}") from exc
    return raw, os.fstat(raw.fileno()).st_size or None


@contextmanager
def open_output(path: str, source: str) -> Iterator[TextIO]:
    """Yield a text handle writing to ``path``, which appears only once complete ('-': stdout)."""
    if path == STANDARD_STREAM:
        yield from _stdout()
        return
    target = Path(path)
    if source != STANDARD_STREAM and target.exists() and os.path.samefile(source, target):
        raise ScoreError(f"refusing to overwrite the input file {source} with the scores")
    # A failed or interrupted run must not leave a file that looks complete.
    partial = target.with_name(target.name + ".partial")
    try:
        out = open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ScoreError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        with out:
            yield out
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def _stdout() -> Iterator[TextIO]:
    """Yield a UTF-8 text handle on stdout's bytes, flushed after the run and then let go."""
    sys.stdout.flush()
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        yield out
        out.flush()
    finally:
        out.detach()
