"""A worker's connection to the server's history writer process: the queue's sink under Gunicorn.

Each batch goes as one frame (api/history/messages.py) over a Unix socket to the writer
(api/history/writer.py), which stores it; this side only counts the batches it could not
hand over. /readyz adds the writer's own state, which it publishes in a file.
"""

import logging
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from api.history.messages import Record, encode, read_status
from api.history.outcome import Outcome, WriteState

log = logging.getLogger(__name__)

# A worker waits this long (seconds) for the writer to take a batch before dropping it.
SEND_TIMEOUT = 30.0
# ...and this long for a writer that is not listening yet: it starts beside the workers, and
# Gunicorn restarts one that died within about a second.
CONNECT_WAIT = 10.0


class WriterClient:
    """Hand batches of records to the writer process over its socket; reconnect to a restarted one."""

    def __init__(self, socket_path: str | Path) -> None:
        self.socket_path = str(socket_path)
        self.outcome = Outcome(log, "history writer answers again: recording resumed")
        self._sock: socket.socket | None = None

    def insert(self, records: Sequence[Record]) -> bool:
        """Hand a batch to the writer; if it cannot take it, count the failure and drop the batch."""
        frame = encode(list(records))
        try:
            self._send(frame)
        except OSError as exc:
            self._disconnect()  # a frame may be half sent: the writer drops the connection's rest
            lost = "history writer unreachable, %d request(s) not recorded"
            return self.outcome.failed(exc, lost, len(records))
        return self.outcome.succeeded()

    def state(self) -> WriteState:
        """Describe the writes for /readyz: this worker's hand-overs and the writer's database writes."""
        writer: WriteState = read_status(self.socket_path) or {"ok": True, "failures": 0}
        return {
            "ok": self.outcome.ok and writer["ok"],
            "failures": self.outcome.failures + writer["failures"],
        }

    def _connect(self) -> socket.socket:
        """Connect to the writer, waiting up to CONNECT_WAIT for one that is (re)starting."""
        deadline = time.monotonic() + CONNECT_WAIT
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(SEND_TIMEOUT)
            try:
                sock.connect(self.socket_path)
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)  # under gevent, the worker's requests go on meanwhile

    def _send(self, frame: bytes) -> None:
        """Send one frame; on a connection to a writer that has since died, reconnect and send it again.

        A worker learns that its connection is stale only when it next sends, and Gunicorn
        has usually restarted the writer by then: the batch goes to the new one.
        """
        if self._sock is not None:
            try:
                self._sock.sendall(frame)
                return
            except (BrokenPipeError, ConnectionResetError):
                self._disconnect()  # the old writer read nothing of this frame: it is gone
        self._sock = self._connect()
        self._sock.sendall(frame)

    def _disconnect(self) -> None:
        """Close the connection to the writer; the next batch opens a new one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
