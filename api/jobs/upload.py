"""An upload streamed into a job's chunk files: read in blocks, decoded as ``python -m model score`` does.

Never more than one chunk of rows in memory: the request body is read a block at a time,
cut into chunks of API_JOBS_CHUNK_ROWS rows by the scoring command's own reader
(model.scoring.reader), and each chunk is written to its file as soon as it is whole. The
limits are checked as the bytes and rows come, so an upload past one stops there: bytes
(413), rows (413), free disk (507); a fault of the file (400) names its row, never its text.
Whatever stops it, the job's folder is removed: nothing half-made stays.
"""

import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from api.jobs.errors import BadUpload, InsufficientStorage, TooManyRows, UploadTooLarge
from api.jobs.files import JobFiles
from api.jobs.jobs import OutputFormat
from api.settings import Settings
from model.errors import ScoreError
from model.scoring.reader import chunk_reader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Bytes read from the request at a time.
BLOCK_BYTES = 1 << 16
# How messages name the uploaded file: "upload: row 7 (line 8) has 1 field(s) ...".
UPLOAD_NAME = "upload"


class Readable(Protocol):
    """What an upload is read from: a binary stream (werkzeug's request.stream, an open file)."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes; b"" at the end."""


@dataclass(frozen=True)
class UploadLimits:
    """The limits an upload is held to, and the rows per chunk it is cut into."""

    max_bytes: int
    max_rows: int
    min_free_bytes: int
    chunk_rows: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "UploadLimits":
        """Return the upload limits and chunk size of ``settings`` (API_JOBS_MAX_UPLOAD_BYTES ...)."""
        return cls(
            settings.JOBS_MAX_UPLOAD_BYTES,
            settings.JOBS_MAX_ROWS,
            settings.JOBS_MIN_FREE_BYTES,
            settings.JOBS_CHUNK_ROWS,
        )


@dataclass(frozen=True)
class Received:
    """What was stored: the rows, and the chunks they were cut into."""

    rows: int
    chunks: int


@dataclass(frozen=True)
class Upload:
    """One upload to receive: into which job, how to read it."""

    job_id: str
    fmt: OutputFormat
    text_column: str = "text"
    id_column: str = "id"
    content_length: int | None = None  # None for a chunked body


def receive(stream: Readable, upload: Upload, files: JobFiles, limits: UploadLimits) -> Received:
    """Store ``stream`` as the chunk files of ``upload.job_id``; return what was stored.

    Raises UploadTooLarge, TooManyRows, InsufficientStorage or BadUpload; the job's folder
    is then removed.
    """
    check_before(upload.content_length, files, limits)
    files.create(upload.job_id)
    try:
        return _store(stream, upload, files, limits)
    except BaseException:
        files.remove(upload.job_id)
        raise


def check_before(content_length: int | None, files: JobFiles, limits: UploadLimits) -> None:
    """Refuse an upload before reading it: a declared size over the limit, or too little disk for it."""
    if content_length is not None and content_length > limits.max_bytes:
        raise _too_large(limits)
    check_disk(files, limits, content_length or 0)


def check_disk(files: JobFiles, limits: UploadLimits, more: int = 0) -> None:
    """Raise InsufficientStorage if writing ``more`` bytes would leave less than the minimum free."""
    if files.free_bytes() - more < limits.min_free_bytes:
        raise InsufficientStorage(
            "not enough free disk space for this upload on the server; retry later or upload a smaller file"
        )


def _store(stream: Readable, upload: Upload, files: JobFiles, limits: UploadLimits) -> Received:
    """Read, check and write the chunks of ``stream``; return what was stored."""
    counted = _CountedStream(stream, limits)
    # As model.scoring.files.open_input: a BOM skipped, undecodable bytes kept so the row can be named.
    handle = io.TextIOWrapper(
        io.BufferedReader(counted, BLOCK_BYTES), encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    reader = chunk_reader(
        upload.fmt, handle, UPLOAD_NAME, upload.text_column, upload.id_column, limits.chunk_rows
    )
    chunks = 0
    try:
        for ids, texts in reader:
            if reader.rows > limits.max_rows:
                raise TooManyRows(
                    f"the upload has more than {limits.max_rows} rows, the most one job may have;"
                    " split the file into several jobs"
                )
            files.write_chunk_input(upload.job_id, chunks, ids, texts)
            chunks += 1
            check_disk(files, limits)
            time.sleep(0)  # under gevent, a turn for the worker's other requests between two chunks
    except ScoreError as exc:
        # The reader's message names the row and the column, never the text (model/scoring/reader.py).
        raise BadUpload(str(exc)) from exc
    if not chunks:
        raise BadUpload(f"{UPLOAD_NAME}: no rows to score")
    return Received(rows=reader.rows, chunks=chunks)


def _too_large(limits: UploadLimits) -> UploadTooLarge:
    """Return the error of an upload past API_JOBS_MAX_UPLOAD_BYTES."""
    return UploadTooLarge(f"the upload is larger than {limits.max_bytes} bytes, the most one job may have")


class _CountedStream(io.RawIOBase):
    """The request body as a raw stream that counts its bytes and stops past the limit."""

    def __init__(self, stream: Readable, limits: UploadLimits) -> None:
        super().__init__()
        self.stream = stream
        self.limits = limits
        self.bytes = 0

    def readable(self) -> bool:
        """Say that this stream reads."""
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        """Read up to one block into ``buffer``; raise UploadTooLarge once past the limit."""
        view = memoryview(buffer).cast("B")
        data = self.stream.read(min(len(view), BLOCK_BYTES))
        self.bytes += len(data)
        # Counted as read, for a chunked body has no Content-Length (and a declared one may lie).
        if self.bytes > self.limits.max_bytes:
            raise _too_large(self.limits)
        view[: len(data)] = data
        return len(data)
