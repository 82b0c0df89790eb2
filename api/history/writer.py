"""The history writer: one process per server stores every worker's prediction history.

Under Gunicorn the workers do not write the history database themselves. Each
worker's history thread (api/history/store.py) sends its batches over a Unix socket to
this process, which writes them:

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
this process publishes its state in a small JSON file that /readyz reads.
"""

import json
import logging
import os
import selectors
import socket
import struct
import threading
import time
from datetime import datetime
from pathlib import Path

from gunicorn.dirty import DirtyApp
from prometheus_client import CollectorRegistry, Counter

from api import constants as c
from api.history.store import History, row_count
from api.settings import Settings, settings_of

log = logging.getLogger(__name__)

# Where the writer publishes its state: beside its socket, in the master's private folder.
STATUS_NAME = "writer.json"
HEADER = struct.Struct("!I")
# A frame is one batch of a worker's queued requests; far above any real one (50 requests
# of at most 1,000 tweets), it only bounds what a broken sender can make the writer hold.
MAX_FRAME = 256 * 1024 * 1024
# Bytes read from one connection per wake-up: about 130 requests of 100 tweets. It bounds a
# batch's size, and so the writer's memory when it catches up on a backlog.
READ_BYTES = 256 * 1024
# Requests arriving within this many seconds of one another are written in one transaction...
LINGER = 0.05
# ...unless they already make this many rows.
LINGER_ROWS = 5000
# The state file is rewritten at most this often (seconds), and at once when ``ok`` flips.
STATUS_INTERVAL = 0.25
# A worker waits this long (seconds) for the writer to take a batch before dropping it.
SEND_TIMEOUT = 30.0
# ...and this long for a writer that is not listening yet: it starts beside the workers, and
# Gunicorn restarts one that died within about a second.
CONNECT_WAIT = 10.0


class FrameError(ValueError):
    """A frame that is not a batch of history this module encoded."""


def encode(items):
    """Return a batch of queued requests (``History.record``'s tuples) as one frame."""
    payload = json.dumps(
        [(created.isoformat(), *rest) for created, *rest in items], separators=(",", ":")
    ).encode()
    return HEADER.pack(len(payload)) + payload


def decode(payload):
    """Return the queued requests of one frame's payload; raise FrameError if it is not one."""
    try:
        items = json.loads(payload)
        return [(datetime.fromisoformat(created), *rest) for created, *rest in items]
    except (ValueError, TypeError) as exc:
        raise FrameError(f"not a history frame: {type(exc).__name__}") from None


class Frames:
    """Split one connection's byte stream into frames."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
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


class Writer:
    """Receive frames from the workers on a Unix socket and write them, one batch per wake-up."""

    def __init__(self, history, socket_path):
        self.history = history
        self.socket_path = str(socket_path)
        self.status_path = Path(socket_path).with_name(STATUS_NAME)
        self.written = 0
        self._published = ({"ok": None}, float("-inf"))
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._listener = None
        self._thread = None

    def start(self):
        """Listen on the socket and serve it in a thread; return self."""
        Path(self.socket_path).unlink(missing_ok=True)  # a dead writer's socket
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._publish(force=True)
        self._thread = threading.Thread(target=self.serve, name="history-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10.0):
        """Stop serving, after writing what the workers already sent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()

    def serve(self):
        """Until stopped: wait for frames, read what every connection has, write it as one batch."""
        while not self._stop.is_set():
            if not self.serve_once(timeout=0.5):
                self._publish(force=True)  # idle: the last writes' counts, however recent
        self.serve_once(timeout=0, linger=0)  # what was sent before the stop
        self._publish(force=True)

    def serve_once(self, timeout, linger=None):
        """Wait ``timeout`` seconds for frames and ``linger`` more for others; write them; return how many."""
        items = self._gather(timeout)
        if not items:
            return 0
        # One transaction for the requests of the next few milliseconds: a commit costs about
        # half a 100-row INSERT, and history need not be visible sooner.
        rows = row_count(items)
        deadline = time.monotonic() + (LINGER if linger is None else linger)
        while rows < LINGER_ROWS and (left := deadline - time.monotonic()) > 0:
            more = self._gather(left)
            items += more
            rows += row_count(more)
        failures = self.history.failures
        self.history.write(items)
        if self.history.failures == failures:
            self.written += rows
        self._publish()
        return len(items)

    def _gather(self, timeout):
        """Accept and read whatever is ready within ``timeout`` seconds; return the requests received."""
        items = []
        for key, _ in self._selector.select(timeout):
            if key.fileobj is self._listener:
                self._accept()
            else:
                items += self._read(key.fileobj, key.data)
        return items

    def _accept(self):
        """Take a worker's connection."""
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._selector.register(conn, selectors.EVENT_READ, Frames())

    def _read(self, conn, frames):
        """Return the requests in the complete frames ``conn`` has sent; close it at its end or on garbage."""
        items, received = [], 0
        try:
            while received < READ_BYTES:
                data = conn.recv(READ_BYTES - received)
                if not data:
                    self._close(conn)  # the worker exited; an unfinished frame goes with it
                    break
                received += len(data)
                for payload in frames.feed(data):
                    items += decode(payload)
        except BlockingIOError:
            pass
        except (FrameError, OSError) as exc:
            # Only this project's workers can reach the socket (a folder of mode 0700): a bad
            # frame is a bug, or a connection cut mid-frame; the rest of its stream cannot be trusted.
            log.warning("history writer: connection dropped: %s", exc)
            self._close(conn)
        return items

    def _close(self, conn):
        """Forget a connection."""
        self._selector.unregister(conn)
        conn.close()

    def _publish(self, force=False):
        """Write the state file for /readyz: at once when ``ok`` flips, else at most every STATUS_INTERVAL."""
        state = {
            "ok": self.history.ok,
            "failures": self.history.failures,
            "pid": os.getpid(),
            "written": self.written,
        }
        last, last_time = self._published
        now = time.monotonic()
        if state == last or (not force and state["ok"] == last["ok"] and now - last_time < STATUS_INTERVAL):
            return
        temporary = self.status_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.status_path)  # readers see the old file or the new, never half
        self._published = (state, now)


def read_status(socket_path):
    """Return the writer's published state, or None before it has published any."""
    try:
        return json.loads(Path(socket_path).with_name(STATUS_NAME).read_text())
    except (OSError, ValueError):
        return None


class HistoryWriter(DirtyApp):
    """The dirty app Gunicorn runs: a Writer over this server's history database."""

    # One writer, whatever dirty_workers says: two would race for SQLite's write lock again.
    workers = 1

    def init(self):
        """Lower this process's priority, open the database, and serve the workers' socket."""
        settings = Settings()
        # An absolute nice value, never below the server's own (lowering it needs privileges).
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, max(current, settings.HISTORY_WRITER_NICE))
        history = History(
            settings.HISTORY_URL,
            store_text=settings.HISTORY_TEXT,
            max_rows=settings.HISTORY_MAX_ROWS,
            max_age_days=settings.HISTORY_MAX_AGE_DAYS,
            shared_loop=False,
        )
        # Its failed writes, in the workers' shared metrics files: a scrape sums them with theirs.
        history.on_failure = Counter(*c.METRIC_HISTORY_FAILURES, registry=CollectorRegistry()).inc
        if settings.HISTORY_WRITER_SOCKET is None:
            raise RuntimeError(
                f"{c.HISTORY_WRITER_SOCKET} is not set: the history writer runs only under gunicorn.conf.py"
            )
        self.writer = Writer(history, settings.HISTORY_WRITER_SOCKET).start()
        log.info("history writer serving %s", self.writer.socket_path)

    def close(self):
        """Write what the workers sent, then stop."""
        self.writer.stop()


class RemoteHistory(History):
    """A worker's history under Gunicorn: batches go to the writer process, reads go to the database."""

    def __init__(self, socket_path, url, **kwargs):
        super().__init__(url, **kwargs)
        self.socket_path = str(socket_path)
        self._sock = None

    def state(self):
        """Describe the history for /readyz: this worker's hand-over and the writer's database writes."""
        own = super().state()
        writer = read_status(self.socket_path) or {"ok": True, "failures": 0}
        return {
            "enabled": True,
            "ok": own["ok"] and writer["ok"],
            "failures": own["failures"] + writer["failures"],
            "dropped": own["dropped"],
        }

    def _connect(self):
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

    def _send(self, frame):
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

    def _disconnect(self):
        """Close the connection to the writer; the next batch opens a new one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def write(self, items):
        """Hand a batch to the writer; if it cannot take it, count the failure and drop the batch."""
        frame = encode(items)
        try:
            self._send(frame)
        except OSError as exc:
            self._disconnect()  # a frame may be half sent: the writer drops the connection's rest
            self.failures += 1
            self.on_failure()
            self.ok = False
            self._warn("history writer unreachable, %d request(s) not recorded: %s", len(items), exc)
            return
        if not self.ok:
            log.info("history writer answers again: recording resumed")
        self.ok = True


def init_app(app):
    """Give ``app`` its prediction history, or None when API_HISTORY_URL is ``none``.

    Under Gunicorn (which sets HISTORY_WRITER_SOCKET) the server's writer process stores
    the rows; elsewhere (the Flask test client, ``flask run``) a thread of this process does.

    A malformed URL or a missing driver stops start-up here; an unreachable
    database does not (predictions never depend on it).
    """
    settings = settings_of(app)
    url = settings.HISTORY_URL
    if not settings.history_enabled:
        app.extensions[c.EXT_HISTORY] = None
        return None
    options = {
        "store_text": settings.HISTORY_TEXT,
        "max_rows": settings.HISTORY_MAX_ROWS,
        "max_age_days": settings.HISTORY_MAX_AGE_DAYS,
    }
    writer_socket = settings.HISTORY_WRITER_SOCKET
    store = RemoteHistory(writer_socket, url, **options) if writer_socket else History(url, **options)
    app.extensions[c.EXT_HISTORY] = store
    return store
