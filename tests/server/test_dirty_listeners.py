"""Only the master and the HTTP workers hold the listening socket, not the dirty arbiter or its worker.

Held by a dirty process, the socket went on listening after the HTTP processes had stopped: a
stopping server completed connections it never served, and reset them up to 18 s later
(api/server/listeners.py; behind a load balancer, tests/hosts/).
"""

import os
from pathlib import Path

import pytest

from tests.e2e import dirty_arbiter_pids, history_writer_pids, running_server, worker_pids

pytestmark = pytest.mark.e2e

LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


def _listening_inodes(port):
    """Return the inodes of the sockets listening on ``port``, from /proc/net/tcp and tcp6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].rsplit(":", 1)[1] == f"{port:04X}" and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes


def _holders(inodes):
    """Return the pids of the processes with a descriptor on any socket of ``inodes``."""
    targets = {f"socket:[{inode}]" for inode in inodes}
    pids = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = {os.readlink(fd) for fd in fd_dir.iterdir()}
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue  # exited while we looked, or not ours to read
        if links & targets:
            pids.add(int(fd_dir.parent.name))
    return pids


def test_only_the_master_and_its_http_workers_hold_the_listening_socket(tmp_path):
    with running_server(tmp_path, workers=2) as server:
        dirty = dirty_arbiter_pids(server) | history_writer_pids(server)
        inodes = _listening_inodes(server.port)
        holders = _holders(inodes)
        http = {server.process.pid} | worker_pids(server)
    assert inodes, "no listening socket found"
    assert len(dirty) >= 2, "the server ran no dirty arbiter and worker: nothing was checked"
    assert holders == http
