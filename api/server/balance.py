"""Sharing connections fairly between Gunicorn workers that accept from one listening socket.

Every idle worker is woken for a new connection, but the first one to run accepts
it and is back for the next before the others have been scheduled (on a VM, an
idle CPU can take milliseconds to wake). A burst of keep-alive connections, from
a load balancer or a benchmark, then all went to one worker while the other
idled: the server used one core of two.

The master keeps a board in shared memory with one slot per worker: how many
connections it holds. A worker that holds more than its share of all the
connections stops accepting for a moment (FairStreamServer in api/server/worker.py),
so that the others take the next ones. Each worker writes only its own slot, so
no lock is needed; a reader may see a count a moment old, which only makes a
pause a little early or late.
"""

import multiprocessing

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

# Slots for workers alive at once (Gunicorn can add workers at run time, TTIN);
# a worker without a slot simply accepts as Gunicorn's own worker does.
SLOTS = 64
FREE, IN_USE = 0, 1


class ConnectionBoard:
    """Connections held per worker, in memory shared by the master and every worker it forks."""

    def __init__(self, slots: int = SLOTS) -> None:
        # Raw shared arrays, no lock: one writer per slot (see the module's docstring).
        self.held = multiprocessing.RawArray("q", slots)
        self.owner = multiprocessing.RawArray("b", slots)

    def assign(self) -> int | None:
        """Reserve a free slot (in the master, before forking); return its index or None."""
        for slot, owner in enumerate(self.owner):
            if owner == FREE:
                self.held[slot] = 0
                self.owner[slot] = IN_USE
                return slot
        return None

    def release(self, slot: int | None) -> None:
        """Free a dead worker's slot (in the master), forgetting the connections it held."""
        if slot is not None:
            self.held[slot] = 0
            self.owner[slot] = FREE

    def add(self, slot: int, delta: int) -> None:
        """Count ``delta`` connections opened (+1) or closed (-1) by the worker of ``slot``."""
        self.held[slot] += delta

    def above_share(self, slot: int) -> bool:
        """Return True if the worker of ``slot`` holds more than an equal share of all connections."""
        total = active = 0
        for held, owner in zip(self.held, self.owner, strict=True):
            if owner != FREE:
                total += held
                active += 1
        return active > 1 and self.held[slot] * active > total


def pre_fork(server: Arbiter, worker: Worker) -> None:
    """Gunicorn hook, in the master: give the worker about to be forked the board and a slot."""
    if server.cfg.workers < 2:
        return
    board = getattr(server, "connection_board", None)
    if board is None:
        board = server.connection_board = ConnectionBoard()
    worker.connection_board = board
    worker.board_slot = board.assign()


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Gunicorn hook, in the master: free the slot of a worker that exited."""
    board = getattr(server, "connection_board", None)
    if board is not None:
        board.release(getattr(worker, "board_slot", None))
