"""A job's files: its upload split into chunk inputs, each chunk's scored output, and the assembled result.

Each job has a folder ``JOBS_DIR/<id>/`` (0700) holding only 0600 files: uploads are
personal data. Every file appears whole or not at all (written beside, then renamed), so
a chunk whose task runs twice leaves one output, and a reader never sees half a file.
In production JOBS_DIR is a folder every API host and worker mounts (README, "Jobs").
"""

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from api.files import FILE_MODE, FOLDER_MODE, private_folder

# A job id as the service makes them (uuid4().hex): nothing else may name a folder under JOBS_DIR.
JOB_ID = re.compile(r"[0-9a-f]{32}")
RESULT = "result"
# Bytes copied at a time when the result is assembled.
COPY_BLOCK = 1 << 20
# Chunk inputs hold texts as the reader decoded them: an NDJSON "\ud83d" escape alone is a lone
# surrogate, which plain UTF-8 cannot encode; json.loads reads it back the same way.
_SURROGATES = "surrogatepass"


def valid_id(job_id: str) -> bool:
    """Return whether ``job_id`` has the shape of a job id (32 lowercase hex digits)."""
    return JOB_ID.fullmatch(job_id) is not None


class JobFiles:
    """The files of every job under one root folder (API_JOBS_DIR)."""

    def __init__(self, root: Path) -> None:
        self.root = private_folder(Path(root))

    def folder(self, job_id: str) -> Path:
        """Return the job's folder (not created); ValueError for anything but a job id."""
        if not valid_id(job_id):
            raise ValueError("not a job id")  # never joined into a path: no ../ can reach past root
        return self.root / job_id

    def create(self, job_id: str) -> Path:
        """Create the job's folder, 0700; return it."""
        folder = self.folder(job_id)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, FOLDER_MODE)
        return folder

    def chunk_input(self, job_id: str, index: int) -> Path:
        """Return the path of chunk ``index``'s input (JSON: its ids and texts)."""
        return self.folder(job_id) / f"in-{index:06d}.json"

    def chunk_output(self, job_id: str, index: int) -> Path:
        """Return the path of chunk ``index``'s scored lines, as they go into the result."""
        return self.folder(job_id) / f"out-{index:06d}.part"

    def write_chunk_input(self, job_id: str, index: int, ids: list[str], texts: list[str]) -> Path:
        """Write chunk ``index``'s ids and texts; return the file."""
        payload = json.dumps({"ids": ids, "texts": texts}, ensure_ascii=False)
        return self._write(self.chunk_input(job_id, index), payload.encode("utf-8", _SURROGATES))

    def read_chunk_input(self, job_id: str, index: int) -> tuple[list[str], list[str]]:
        """Return chunk ``index``'s ``(ids, texts)``."""
        chunk = json.loads(self.chunk_input(job_id, index).read_bytes())
        return chunk["ids"], chunk["texts"]

    def write_chunk_output(self, job_id: str, index: int, text: str) -> Path:
        """Write chunk ``index``'s scored lines; written twice, the file is whole and one."""
        return self._write(self.chunk_output(job_id, index), text.encode("utf-8"))

    def assemble(self, job_id: str, chunks: int, header: str) -> Path:
        """Write the result: ``header`` then chunks 0 to ``chunks - 1`` in order; return it.

        FileNotFoundError if a chunk's output is missing.
        """
        with self._atomic(self.result(job_id)) as out:
            out.write(header.encode("utf-8"))
            for index in range(chunks):
                with open(self.chunk_output(job_id, index), "rb") as part:
                    shutil.copyfileobj(part, out, COPY_BLOCK)
        return self.result(job_id)

    def result(self, job_id: str) -> Path:
        """Return the path of the job's result (its format is the job record's, not the file name's)."""
        return self.folder(job_id) / RESULT

    def remove(self, job_id: str) -> None:
        """Delete the job's folder and everything in it; nothing if it is gone."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.folder(job_id))

    def job_ids(self) -> list[str]:
        """Return the ids of the jobs that have a folder (retention looks for folders without a record)."""
        return sorted(entry.name for entry in os.scandir(self.root) if valid_id(entry.name))

    def free_bytes(self) -> int:
        """Return the bytes an unprivileged process may still write on the jobs' file system."""
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def _write(self, path: Path, payload: bytes) -> Path:
        """Write ``payload`` to ``path`` atomically, 0600."""
        with self._atomic(path) as out:
            out.write(payload)
        return path

    @contextmanager
    def _atomic(self, path: Path) -> Iterator[BinaryIO]:
        """Yield a 0600 file beside ``path`` that replaces it when the block ends; removed if it fails."""
        # A name of its own per writer: two runs of one chunk never write into the same file.
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
