"""Resident memory of Gunicorn's workers, read from /proc."""

import os
from pathlib import Path


def children(pid):
    """Return the pids of a process's children (Gunicorn's workers, for the master)."""
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        pids += [int(p) for p in text]
    return sorted(pids)


def rss_mib(pid):
    """Return the resident set size of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def workers_rss(master_pid):
    """Return ``{worker pid: RSS MiB}`` for every worker of a Gunicorn master."""
    return {pid: round(rss_mib(pid), 1) for pid in children(master_pid)}


def cpu_seconds(pid):
    """Return the user + system CPU seconds a process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: utime and stime are fields 14 and 15 of stat(5), here 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_cpu(master_pid):
    """Return the CPU seconds used so far by all workers of a Gunicorn master, together."""
    return sum(cpu_seconds(pid) for pid in children(master_pid))
