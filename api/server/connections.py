"""Caps on a worker's open connections: per client address group, and in all below its pool.

Gunicorn bounds a gevent worker's connections only by its pool
(WORKER_CONNECTIONS): one address opening thousands of idle connections filled
it, and every other client's connection then waited in the listen queue
(``/healthz`` took seconds). A worker now counts its open connections per
address group (api/addresses.py) and in all; a connection over either cap is
closed as soon as it is accepted, before any TLS work, with a reset (no
lingering state). ``MAX_CONNECTIONS`` stays below the pool, so the pool never
fills and the worker always accepts, answering or refusing at once.
"""

import contextlib
import logging
import socket
import struct
import time
from collections import Counter

from api.addresses import client_group

log = logging.getLogger(__name__)

# How often a worker may report refused connections: enough to notice, too rare to flood.
REPORT_INTERVAL = 60.0
# SO_LINGER on, timeout 0: close() sends a reset and frees the socket at once (no TIME_WAIT).
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


# Without API_MAX_CONNECTIONS, a worker holds at most this share of its pool.
DEFAULT_SHARE_OF_POOL = 0.9


def total_cap(setting: int | None, pool: int) -> int:
    """Return a worker's cap on connections in all: the setting, or DEFAULT_SHARE_OF_POOL of its pool."""
    return setting if setting is not None else max(1, int(pool * DEFAULT_SHARE_OF_POOL))


class ConnectionCaps:
    """One worker's open connections, by address group and in all."""

    def __init__(self, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self.open = 0
        self._by_group: Counter[str] = Counter()
        self.refused = 0
        self._reported_at = float("-inf")

    def admit(self, address: object) -> str | None:
        """Count a new connection from ``address`` and return its group, or None if it is over a cap."""
        group = client_group(address[0] if isinstance(address, tuple) else None)
        if self.open >= self.total or self._by_group[group] >= self.per_address:
            self.refused += 1
            return None
        self.open += 1
        self._by_group[group] += 1
        return group

    def release(self, group: str) -> None:
        """Count a connection of ``group`` closed."""
        self.open -= 1
        self._by_group[group] -= 1
        if not self._by_group[group]:
            del self._by_group[group]

    def held(self, group: str) -> int:
        """Return how many connections ``group`` holds open."""
        return self._by_group[group]

    def refuse(self, sock: socket.socket) -> None:
        """Close an accepted connection at once, with a reset; report refusals once a minute at most."""
        # OSError: already reset by the client, and closing is all that is left.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        sock.close()
        now = time.monotonic()
        if now - self._reported_at >= REPORT_INTERVAL:
            self._reported_at = now
            log.warning(
                "refused %d connection(s) so far over the caps (%d per address, %d in all per worker)",
                self.refused,
                self.per_address,
                self.total,
            )
