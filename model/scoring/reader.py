"""The input, CSV or NDJSON, as chunks of ``(ids, texts)``, read a chunk at a time; a fault names its row."""

import csv
import json
import re
from _csv import Reader  # the type of csv.reader's readers (csv itself names only the function)
from collections.abc import Iterator
from typing import TextIO

from model.errors import ScoreError
from model.scoring.output import OutputFormat

# Far above any tweet, but bounded: an unclosed quote would otherwise read the rest of the file as one field.
MAX_FIELD_CHARS = 1 << 24
# Bytes that are not valid in the input's encoding, kept as lone surrogates (errors="surrogateescape")
# so the row they are in can be named.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# A JSON "\\ud800" escape alone decodes to a lone surrogate, which no UTF-8 output can hold.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Columns the message about a missing text column lists at the most.
_COLUMNS_SHOWN = 20

# One chunk: the ids of its rows and their texts.
Chunk = tuple[list[str], list[str]]


class _Reader:
    """What both readers are given: the open input, its name for messages, the columns, the chunk size."""

    def __init__(
        self,
        handle: TextIO,
        name: str,
        text_column: str,
        id_column: str,
        chunk_rows: int,
        encoding: str = "utf-8",
    ) -> None:
        self.handle = handle
        self.name = name
        self.text_column = text_column
        self.id_column = id_column
        self.chunk_rows = chunk_rows
        self.encoding = encoding
        self.rows = 0


class ChunkReader(_Reader):
    """Iterate over a CSV as ``(ids, texts)`` chunks of ``chunk_rows`` rows; ``rows`` counts rows read."""

    def __iter__(self) -> Iterator[Chunk]:
        """Yield the chunks in file order; raise ScoreError naming the row of any fault."""
        csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
        reader = csv.reader(self.handle)
        header = self._header(reader)
        text_at, id_at = self._columns(header)
        rows = self._rows(reader, header, max(text_at, -1 if id_at is None else id_at) + 1)
        numbered = ((n, str(n) if id_at is None else row[id_at], row[text_at]) for n, row in rows)
        for last, (ids, texts) in _grouped(numbered, self.chunk_rows):
            yield self._checked(ids, texts, last, id_at is not None)

    def _header(self, reader: Reader) -> list[str]:
        """Return the header row, or raise ScoreError for an empty or unreadable one."""
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ScoreError(f"{self.name}: header row: {exc}") from exc
        if not header:
            raise ScoreError(
                f"{self.name}: empty file; expected a header row with a {self.text_column!r} column"
            )
        return header

    def _columns(self, header: list[str]) -> tuple[int, int | None]:
        """Return the positions of the text and id columns (id None when absent) or raise ScoreError."""
        if self.text_column not in header:
            shown = ", ".join(repr(column[:40]) for column in header[:_COLUMNS_SHOWN])
            more = f" and {len(header) - _COLUMNS_SHOWN} more" if len(header) > _COLUMNS_SHOWN else ""
            raise ScoreError(
                f"{self.name}: no {self.text_column!r} column in the header row (columns: {shown}{more});"
                " choose one with --text-column"
            )
        id_at = header.index(self.id_column) if self.id_column in header else None
        return header.index(self.text_column), id_at

    def _rows(self, reader: Reader, header: list[str], needed: int) -> Iterator[tuple[int, list[str]]]:
        """Yield each row with ``needed`` fields or more and its number; raise ScoreError for any other."""
        number = self.rows
        try:
            for row in reader:
                if not row:  # a blank line, as csv.DictReader skips them
                    continue
                number += 1
                if len(row) < needed:
                    raise ScoreError(
                        f"{self.name}: row {number} (line {reader.line_num}) has {len(row)} field(s);"
                        f" the header has {len(header)}"
                    )
                yield number, row
        except csv.Error as exc:
            # A field over the limit is most likely an unclosed quote swallowing the rows after it.
            hint = "; an unclosed quote?" if "field limit" in str(exc) else ""
            raise ScoreError(f"{self.name}: row {number + 1} (line {reader.line_num}): {exc}{hint}") from exc

    def _checked(self, ids: list[str], texts: list[str], last_row: int, check_ids: bool) -> Chunk:
        """Return the chunk ending at row ``last_row``, counted as read, once its text decoded cleanly."""
        first_row = last_row - len(texts) + 1
        # One search over the whole chunk; rows are looked at one by one only when it finds something.
        if _UNDECODABLE.search("".join(texts)) or (check_ids and _UNDECODABLE.search("".join(ids))):
            for offset, (key, text) in enumerate(zip(ids, texts, strict=True)):
                self._check_row(first_row + offset, text, key if check_ids else "")
        self.rows = last_row
        return ids, texts

    def _check_row(self, number: int, text: str, key: str) -> None:
        """Raise ScoreError if the text or id of row ``number`` had bytes invalid in the encoding."""
        for column, value in ((self.text_column, text), (self.id_column, key)):
            found = _UNDECODABLE.search(value)
            if found:
                byte = ord(found.group()) - 0xDC00
                raise ScoreError(
                    f"{self.name}: row {number}: byte 0x{byte:02x} in the {column!r} column"
                    f" is not valid {self.encoding}; convert the file or pass --encoding"
                )


class NdjsonChunkReader(_Reader):
    """Iterate over NDJSON (one object per non-blank line) as ``(ids, texts)`` chunks, like ChunkReader."""

    def __iter__(self) -> Iterator[Chunk]:
        """Yield the chunks in file order; raise ScoreError naming the row of any fault."""
        for last, chunk in _grouped(self._rows(), self.chunk_rows):
            self.rows = last
            yield chunk

    def _rows(self) -> Iterator[tuple[int, str, str]]:
        """Yield ``(row number, id, text)`` of each non-blank line."""
        number = self.rows
        line_number = 0
        # Bounded lines (room for a "\r\n"): a file without newlines must not be read whole as one line.
        for line in iter(lambda: self.handle.readline(MAX_FIELD_CHARS + 2), ""):
            line_number += 1
            if line.isspace():
                continue
            number += 1
            where = f"{self.name}: row {number} (line {line_number})"
            if len(line.rstrip("\r\n")) > MAX_FIELD_CHARS:
                raise ScoreError(f"{where}: longer than {MAX_FIELD_CHARS} characters")
            found = _UNDECODABLE.search(line)
            if found:
                byte = ord(found.group()) - 0xDC00
                raise ScoreError(
                    f"{where}: byte 0x{byte:02x} is not valid {self.encoding};"
                    " convert the file or pass --encoding"
                )
            key, text = self._fields(_parse(line, where), where, number)
            yield number, key, text

    def _fields(self, row: object, where: str, number: int) -> tuple[str, str]:
        """Return the id (the row number when absent) and text of one parsed line, or raise ScoreError."""
        if not isinstance(row, dict):
            raise ScoreError(f"{where}: a JSON object expected, not {_kind(row)}")
        if self.text_column not in row:
            raise ScoreError(f"{where}: no {self.text_column!r} key; choose one with --text-column")
        text = row[self.text_column]
        if not isinstance(text, str):
            raise ScoreError(f"{where}: the {self.text_column!r} value is {_kind(text)}, not a string")
        if self.id_column not in row:
            return str(number), text
        key = row[self.id_column]
        # bool is an int to Python, not an id to anyone.
        if isinstance(key, bool) or not isinstance(key, str | int):
            raise ScoreError(
                f"{where}: the {self.id_column!r} value is {_kind(key)}, not a string or an integer"
            )
        key = str(key)
        if _SURROGATE.search(key):
            raise ScoreError(f"{where}: the {self.id_column!r} value holds a lone surrogate escape")
        return key, text


def _grouped(rows: Iterator[tuple[int, str, str]], size: int) -> Iterator[tuple[int, Chunk]]:
    """Group numbered ``(row, id, text)`` rows into chunks of ``size``, each with its last row number."""
    ids: list[str] = []
    texts: list[str] = []
    number = 0
    for number, key, text in rows:
        ids.append(key)
        texts.append(text)
        if len(texts) == size:
            yield number, (ids, texts)
            ids, texts = [], []
    if texts:
        yield number, (ids, texts)


def _parse(line: str, where: str) -> object:
    """Return the JSON value of one line, or raise ScoreError naming the row (never its text)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        # Its msg and column only: the whole message could quote the line.
        raise ScoreError(f"{where}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
    except ValueError as exc:  # an integer past Python's digit limit
        raise ScoreError(f"{where}: not valid JSON: a number too long") from exc
    except RecursionError as exc:
        raise ScoreError(f"{where}: not valid JSON: nested too deeply") from exc


def _kind(value: object) -> str:
    """Return the JSON name of a parsed value's type, for messages."""
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def chunk_reader(
    fmt: OutputFormat,
    handle: TextIO,
    name: str,
    text_column: str,
    id_column: str,
    chunk_rows: int,
    encoding: str = "utf-8",
) -> ChunkReader | NdjsonChunkReader:
    """Return the reader of ``fmt`` ("csv" or "ndjson") over ``handle``: both yield ``(ids, texts)``."""
    if fmt == "ndjson":
        return NdjsonChunkReader(handle, name, text_column, id_column, chunk_rows, encoding)
    return ChunkReader(handle, name, text_column, id_column, chunk_rows, encoding)
