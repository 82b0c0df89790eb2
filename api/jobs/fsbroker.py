"""The embedded broker: kombu's filesystem transport, made private, atomic and at-least-once.

kombu's own filesystem transport moves a message it reads to the system's temporary folder (where
other users could list it) and deletes it at once: a worker killed while it runs a task loses that
message, and a reader may catch a file its writer has not finished. Here, under one private folder:

- a message is written to a temporary name and renamed into the queue folder, so a reader only
  ever sees whole messages;
- a consumer claims a message by renaming it into a claim folder of its own, and deletes it only
  when the task acknowledges it (``acks_late``): a task run to its end, or retried, or rejected;
- each claim folder is held by an exclusive lock (flock) for its consumer's life. A lock nobody
  holds means the consumer died, even by ``kill -9``, and any consumer then moves the messages it
  had claimed back into the queue, to run again (the tasks are idempotent).

Celery selects it with ``broker_transport`` (api/jobs/celeryapp.py) for ``filesystem://``.
"""

import contextlib
import fcntl
import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from typing import IO, Any

from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

from api.files import FILE_MODE, private_folder
from api.jobs.fsnames import SUFFIX, message_name, queue_of

log = logging.getLogger(__name__)

# Transport option naming the folder of claim folders (kombu's own options name the queue's).
CLAIM_FOLDER = "claim_folder"
LOCK = ".lock"


def requeue_orphans(queue_folder: Path, claim_folder: Path) -> int:
    """Move back to the queue the messages of consumers that died; return how many."""
    moved = 0
    for lock_path in claim_folder.glob("*" + LOCK):
        try:
            handle = open(lock_path, "rb")  # noqa: SIM115  # held while its claims move
        except FileNotFoundError:
            continue  # recovered meanwhile by another consumer
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its consumer is alive
            claims = lock_path.with_suffix("")
            for message in sorted(claims.glob("*" + SUFFIX)):
                os.replace(message, queue_folder / message.name)
                moved += 1
            with contextlib.suppress(FileNotFoundError):
                claims.rmdir()
            lock_path.unlink(missing_ok=True)
    if moved:
        log.warning("embedded broker: %d message(s) of a stopped worker put back in the queue", moved)
    return moved


class Channel(filesystem.Channel):
    """A filesystem channel whose messages are claimed by rename and deleted on acknowledgement."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claims: dict[str, Path] = {}
        self._claim_dir: Path | None = None
        self._claim_lock: IO[bytes] | None = None

    # kombu's two bases name the message differently (message, payload); both pass it by position.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message whole under a temporary name, then rename it into the queue."""
        folder = Path(self.data_folder_out)
        final = folder / message_name(queue)
        temporary = folder / f".{final.name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(dumps(payload).encode())
        os.replace(temporary, final)

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Claim the oldest message of ``queue``: move it into this consumer's claim folder, then read it."""
        folder = Path(self.data_folder_in)
        claims = self._claim_folder()
        for name in sorted(os.listdir(folder)):
            if queue_of(name) != queue:
                continue
            claimed = claims / name
            try:
                os.rename(folder / name, claimed)  # atomic: of two consumers, one wins
            except FileNotFoundError:
                continue
            try:
                payload = loads(claimed.read_bytes().decode())
                tag = payload["properties"]["delivery_tag"]
            except (ValueError, KeyError, TypeError):
                # Only this server's processes write here (a 0700 folder): a bug, never a task to run.
                log.warning("embedded broker: unreadable message file dropped")
                claimed.unlink(missing_ok=True)
                continue
            self._claims[tag] = claimed
            return payload
        raise Empty()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        """Acknowledge: the message is done with, delete its file."""
        super().basic_ack(delivery_tag, multiple=multiple)
        self._forget(delivery_tag)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        """Reject: put the message back (requeue, through _restore) or delete it."""
        super().basic_reject(delivery_tag, requeue=requeue)
        self._forget(delivery_tag)

    def _restore(self, message: Any) -> None:
        """Put an unacknowledged message back in the queue: its own file if this consumer claimed it."""
        claimed = self._claims.pop(message.delivery_tag, None)
        if claimed is not None and claimed.exists():
            os.replace(claimed, Path(self.data_folder_in) / claimed.name)
            return
        super()._restore(message)

    def close(self) -> None:
        """Close (kombu puts the unacknowledged messages back), then release the claim folder."""
        super().close()
        if self._claim_lock is not None and self._claim_dir is not None:
            with contextlib.suppress(OSError):  # not empty: left for the next consumer to requeue
                self._claim_dir.rmdir()
                Path(str(self._claim_dir) + LOCK).unlink()
            self._claim_lock.close()
            self._claim_lock = None

    def _forget(self, delivery_tag: str) -> None:
        """Delete the file of a message this consumer no longer holds."""
        claimed = self._claims.pop(delivery_tag, None)
        if claimed is not None:
            claimed.unlink(missing_ok=True)

    def _claim_folder(self) -> Path:
        """Return this consumer's claim folder, made and locked on first use after requeueing orphans."""
        if self._claim_dir is None:
            root = private_folder(Path(self.transport_options[CLAIM_FOLDER]))
            requeue_orphans(Path(self.data_folder_in), root)
            name = uuid.uuid4().hex
            # Locked under a name no one looks for, then renamed: never seen unlocked, so never
            # taken for a dead consumer's.
            unseen = root / f".{name}.tmp"
            lock = open(unseen, "wb")  # noqa: SIM115  # held until close()
            fcntl.flock(lock, fcntl.LOCK_EX)
            os.replace(unseen, root / (name + LOCK))
            self._claim_lock = lock
            self._claim_dir = private_folder(root / name)
        return self._claim_dir


class Transport(filesystem.Transport):
    """kombu's filesystem transport with the channel above."""

    Channel = Channel
