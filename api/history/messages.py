"""What a worker and the history writer process exchange: records in frames one way, a state file the other.

A ``Record`` is one request's scored tweets, as a worker queues it and as the writer
receives it: the same type at both ends of the socket. Frames are length-prefixed JSON
(a 4-byte big-endian size, then a list of records as objects); the writer publishes its
state in a small JSON file beside its socket, which /readyz reads.
"""

import json
import os
import struct
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

HEADER = struct.Struct("!I")
# A frame is one batch of a worker's queued requests; far above any real one (50 requests
# of at most 1,000 tweets), it only bounds what a broken sender can make the writer hold.
MAX_FRAME = 256 * 1024 * 1024
# Where the writer publishes its state: beside its socket, in the master's private folder.
STATUS_NAME = "writer.json"


class Record(NamedTuple):
    """One request's scored tweets: one row per tweet and model once stored."""

    created: datetime  # aware UTC
    token: str  # the token's name, never the token
    keys: list[str]  # the request's tweet ids, in order
    texts: list[str] | None  # their texts, only when the operator keeps them (API_HISTORY_TEXT)
    scores: dict[str, list[float]]  # {model: [log-odds per tweet]}
    versions: dict[str, str]  # {model: version}
    # The drift monitor's sample: the indexes of a few of the request's tweets, and each model's share
    # of unknown tokens in each of them, in that order ({model: [share per sampled tweet]}).
    sampled: list[int] | None = None
    unknown: dict[str, list[float]] | None = None

    @property
    def row_count(self) -> int:
        """Return the rows this request makes: one per tweet and model."""
        return len(self.keys) * len(self.scores)

    def to_wire(self) -> dict[str, Any]:
        """Return the record as a JSON object, its time as ISO 8601 text."""
        return self._asdict() | {"created": self.created.isoformat()}

    @classmethod
    def from_wire(cls, fields: dict[str, Any]) -> "Record":
        """Return the record of a JSON object ``to_wire`` made; raise ValueError if its parts disagree."""
        record = cls(**{**fields, "created": datetime.fromisoformat(fields["created"])})
        # A row is a key, its text and one score per model: lists of other lengths would fail the
        # writer mid-insert, so a frame carrying them is refused whole, here.
        lengths = {len(scores) for scores in record.scores.values()} | {len(record.keys)}
        if record.texts is not None:
            lengths.add(len(record.texts))
        if len(lengths) != 1 or set(record.scores) != set(record.versions):
            raise ValueError("a record's keys, texts, scores and versions do not match")
        if not record.sample_matches():
            raise ValueError("a record's sample does not match its keys and models")
        return record

    def sample_matches(self) -> bool:
        """Return True if the sample's indexes are the record's and each of its models has one share each."""
        sampled, unknown = self.sampled or [], self.unknown or {}
        return (
            all(isinstance(i, int) and 0 <= i < len(self.keys) for i in sampled)
            and set(unknown) <= set(self.scores)
            and all(len(shares) == len(sampled) for shares in unknown.values())
        )


class FrameError(ValueError):
    """A frame that is not a batch of history this module encoded."""


def encode(records: list[Record]) -> bytes:
    """Return a batch of records as one frame."""
    payload = json.dumps([record.to_wire() for record in records], separators=(",", ":")).encode()
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> list[Record]:
    """Return the records of one frame's payload; raise FrameError if it is not a batch of them."""
    try:
        return [Record.from_wire(fields) for fields in json.loads(payload)]
    except (ValueError, TypeError, KeyError) as exc:
        raise FrameError(f"not a history frame: {type(exc).__name__}") from None


class Frames:
    """Split one connection's byte stream into frames."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the payloads completed; raise FrameError on an oversized frame."""
        self.buffer += data
        payloads = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if size > MAX_FRAME:
                raise FrameError(f"frame of {size} bytes, above {MAX_FRAME}")
            end = HEADER.size + size
            if len(self.buffer) < end:
                break
            payloads.append(bytes(self.buffer[HEADER.size : end]))
            del self.buffer[:end]
        return payloads


class WriterStatus(TypedDict):
    """The writer's published state: its last write's outcome, its failures, its pid, rows written."""

    ok: bool
    failures: int
    pid: int
    written: int


def status_path(socket_path: str | Path) -> Path:
    """Return the writer's state file: beside its socket."""
    return Path(socket_path).with_name(STATUS_NAME)


def write_status(socket_path: str | Path, status: WriterStatus) -> None:
    """Publish the writer's state, replacing the file whole."""
    path = status_path(socket_path)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(status))
    os.replace(temporary, path)  # readers see the old file or the new, never half


def read_status(socket_path: str | Path) -> WriterStatus | None:
    """Return the writer's published state, or None before it has published any."""
    try:
        status: WriterStatus = json.loads(status_path(socket_path).read_text())
    except (OSError, ValueError):
        return None
    return status
