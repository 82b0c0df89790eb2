"""Keeping the HTTP listening sockets out of Gunicorn's dirty arbiter and its workers, and their
addresses once they are closed.

Gunicorn forks its dirty arbiter (the history writer's and the embedded job worker's supervisor)
from the master after binding the listening sockets, and leaves them open in it; its workers,
forked from it, inherit them too. When the server stops, the master and the HTTP workers close
theirs, but the socket goes on listening for as long as a dirty process runs (up to its graceful
timeout, 18 s): the kernel completes new connections that nobody will accept, and resets them
when the last dirty process exits. A load balancer in front takes them for accepted and cannot
retry them elsewhere: behind HAProxy, every client that connected then waited ~18 s for a reset
(tests/hosts/test_hosts_failover.py). Closed in the arbiter as it starts, the socket stops
listening as soon as the HTTP processes are done, and a new connection is refused at once: a
load balancer then opens it on another host.
"""

from dataclasses import dataclass
from typing import Any

from api.addresses import SocketAddress

# Where the master leaves itself, on its configuration, for the dirty arbiter it forks to find.
MASTER = "sentiment_http_master"


def remember_master(server: Any) -> None:
    """In the master, at start: leave a reference to it on the configuration the arbiter inherits."""
    setattr(server.cfg, MASTER, server)


def close_inherited(dirty_arbiter: Any) -> None:
    """In a dirty arbiter, as it starts: close the master's listening sockets it inherited.

    Only this process's copies: the master and the HTTP workers keep theirs. The dirty workers,
    forked from the arbiter afterwards, inherit none.
    """
    master = getattr(dirty_arbiter.cfg, MASTER, None)
    if master is None:
        return
    for listener in master.LISTENERS:
        listener.close()
    dirty_arbiter.log.debug("dirty arbiter closed %d inherited listening sockets", len(master.LISTENERS))


@dataclass(frozen=True)
class ListenerName:
    """A listening socket's address, read once when serving starts.

    Gunicorn asks the listener for its address on each connection; a connection accepted just before
    the drain closed the socket would fail there (EBADF) and be closed unanswered.
    """

    name: SocketAddress

    def getsockname(self) -> SocketAddress:
        """Return the address, as the socket did while it was open."""
        return self.name
