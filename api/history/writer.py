"""The history writer: one process per server stores every worker's prediction history.

Under Gunicorn the workers do not write the history database themselves. Each
worker's history queue (api/history/queue.py) sends its batches over a Unix socket
(api/history/client.py) to this process, which inserts them into its store
(api/history/store.py) as they come, with no queue of its own:

- the writes leave the workers: at one connection a request no longer waits behind
  the previous one's INSERT, which ran on the same event loop;
- a single writer: SQLite never makes one worker wait for another's write lock (that
  wait is in C, and it held the waiting worker's every request);
- a lower CPU priority (API_HISTORY_WRITER_NICE, 19 by default): when serving
  predictions fills every core, predictions come first and history catches up when
  there is room. If it cannot catch up, the workers' bounded queues fill, and further
  requests are dropped from the history and counted (``dropped`` in /readyz and
  ``sentiment_history_dropped_total``), never slowed.

Gunicorn's dirty arbiter runs this process (``dirty_apps`` in gunicorn.conf.py): it
starts it with the server, restarts it if it dies, and stops it with the server.
Its request-and-answer channel is not used for the rows: measured, one call per
batch cost about 2 ms of CPU across the arbiter and the writer, twice the INSERT
itself. The workers write length-prefixed JSON frames straight to this socket, and
this process publishes its state in a small JSON file that /readyz reads (both in
api/history/messages.py).
"""

import logging
import os
import selectors
import socket
import threading
import time
from pathlib import Path

from gunicorn.dirty import DirtyApp
from prometheus_client import CollectorRegistry, Counter

from api import constants as c
from api.history.messages import FrameError, Frames, Record, WriterStatus, decode, write_status
from api.history.store import Store
from api.settings import Settings

log = logging.getLogger(__name__)

# Bytes read from one connection per wake-up: about 130 requests of 100 tweets. It bounds a
# batch's size, and so the writer's memory when it catches up on a backlog.
READ_BYTES = 256 * 1024
# Requests arriving within this many seconds of one another are written in one transaction...
LINGER = 0.05
# ...unless they already make this many rows.
LINGER_ROWS = 5000
# The state file is rewritten at most this often (seconds), and at once when ``ok`` flips.
STATUS_INTERVAL = 0.25


class Writer:
    """Receive frames from the workers on a Unix socket and insert them, one batch per wake-up."""

    def __init__(self, store: Store, socket_path: str | Path) -> None:
        self.store = store
        self.socket_path = str(socket_path)
        self.written = 0
        self._published: tuple[WriterStatus | None, float] = (None, float("-inf"))
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread: threading.Thread | None = None

    def start(self) -> "Writer":
        """Listen on the socket and serve it in a thread; return self."""
        Path(self.socket_path).unlink(missing_ok=True)  # a dead writer's socket
        self._listener.bind(self.socket_path)
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._publish(force=True)
        self._thread = threading.Thread(target=self.serve, name="history-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, after writing what the workers already sent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]  # only sockets are registered
        self._selector.close()

    def serve(self) -> None:
        """Until stopped: wait for frames, read what every connection has, write it as one batch."""
        while not self._stop.is_set():
            if not self.serve_once(timeout=0.5):
                self._publish(force=True)  # idle: the last writes' counts, however recent
        self.serve_once(timeout=0, linger=0)  # what was sent before the stop
        self._publish(force=True)

    def serve_once(self, timeout: float, linger: float = LINGER) -> int:
        """Wait ``timeout`` seconds for frames and ``linger`` more for others; write them; return how many."""
        records = self._gather(timeout)
        if not records:
            return 0
        # One transaction for the requests of the next few milliseconds: a commit costs about
        # half a 100-row INSERT, and history need not be visible sooner.
        rows = _row_count(records)
        deadline = time.monotonic() + linger
        while rows < LINGER_ROWS and (left := deadline - time.monotonic()) > 0:
            more = self._gather(left)
            records += more
            rows += _row_count(more)
        if self.store.insert(records):
            self.written += rows
        self._publish()
        return len(records)

    def _gather(self, timeout: float) -> list[Record]:
        """Accept and read whatever is ready within ``timeout`` seconds; return the requests received."""
        records = []
        for key, _ in self._selector.select(timeout):
            if key.fileobj is self._listener:
                self._accept()
            else:
                records += self._read(key.fileobj, key.data)  # type: ignore[arg-type]  # a socket
        return records

    def _accept(self) -> None:
        """Take a worker's connection."""
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._selector.register(conn, selectors.EVENT_READ, Frames())

    def _read(self, conn: socket.socket, frames: Frames) -> list[Record]:
        """Return the requests in the complete frames ``conn`` has sent; close it at its end or on garbage."""
        records: list[Record] = []
        received = 0
        try:
            while received < READ_BYTES:
                data = conn.recv(READ_BYTES - received)
                if not data:
                    self._close(conn)  # the worker exited; an unfinished frame goes with it
                    break
                received += len(data)
                for payload in frames.feed(data):
                    records += decode(payload)
        except BlockingIOError:
            pass
        except (FrameError, OSError) as exc:
            # Only this project's workers can reach the socket (a folder of mode 0700): a bad
            # frame is a bug, or a connection cut mid-frame; the rest of its stream cannot be trusted.
            log.warning("history writer: connection dropped: %s", exc)
            self._close(conn)
        return records

    def _close(self, conn: socket.socket) -> None:
        """Forget a connection."""
        self._selector.unregister(conn)
        conn.close()

    def _publish(self, force: bool = False) -> None:
        """Write the state file for /readyz: at once when ``ok`` flips, else at most every STATUS_INTERVAL."""
        state: WriterStatus = {**self.store.state(), "pid": os.getpid(), "written": self.written}
        last, last_time = self._published
        now = time.monotonic()
        if state == last:
            return
        if last is not None and not force and state["ok"] == last["ok"] and now - last_time < STATUS_INTERVAL:
            return
        write_status(self.socket_path, state)
        self._published = (state, now)


def _row_count(records: list[Record]) -> int:
    """Return the rows ``records`` make."""
    return sum(record.row_count for record in records)


class HistoryWriter(DirtyApp):
    """The dirty app Gunicorn runs: a Writer over this server's history store."""

    # One writer, whatever dirty_workers says: two would race for SQLite's write lock again.
    workers = 1

    def init(self) -> None:
        """Lower this process's priority, open the database, and serve the workers' socket."""
        settings = Settings()
        if settings.HISTORY_WRITER_SOCKET is None:
            raise RuntimeError(
                f"{c.HISTORY_WRITER_SOCKET} is not set: the history writer runs only under gunicorn.conf.py"
            )
        # An absolute nice value, never below the server's own (lowering it needs privileges).
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, max(current, settings.HISTORY_WRITER_NICE))
        store = Store.from_settings(settings, shared_loop=False)
        # Its failed writes, in the workers' shared metrics files: a scrape sums them with theirs.
        store.outcome.on_failure = Counter(*c.METRIC_HISTORY_FAILURES, registry=CollectorRegistry()).inc
        self.writer = Writer(store, settings.HISTORY_WRITER_SOCKET).start()
        log.info("history writer serving %s", self.writer.socket_path)

    def close(self) -> None:
        """Write what the workers sent, then stop."""
        self.writer.stop()
