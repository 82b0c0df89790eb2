"""Resident memory and CPU time of a Gunicorn server's processes, read from /proc."""

import os
from pathlib import Path


def children(pid):
    """Return the pids of a process's children (Gunicorn's workers, for the master)."""
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        pids += [int(p) for p in text]
    return sorted(pids)


def descendants(pid):
    """Return the pids of a process's children, theirs, and so on (a dirty arbiter's writer too)."""
    pids = children(pid)
    return pids + [grandchild for child in pids for grandchild in descendants(child)]


def rss_mib(pid):
    """Return the resident set size of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def private_mib(pid):
    """Return the memory only this process uses, in MiB: what it does not share with its parent."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0])
    return (fields["Private_Clean"] + fields["Private_Dirty"]) / 1024


def rss(pids):
    """Return ``{pid: RSS MiB}`` for the given processes."""
    return {pid: round(rss_mib(pid), 1) for pid in sorted(pids)}


def cpu_seconds(pid):
    """Return the user + system CPU seconds a process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: utime and stime are fields 14 and 15 of stat(5), here 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(master_pid):
    """Return the CPU seconds used so far by a Gunicorn master's processes: workers, history writer."""
    return sum(cpu_seconds(pid) for pid in descendants(master_pid))


def pss_mib(pid):
    """Return the proportional set size of a process in MiB: its own pages, plus its share of shared ones.

    Summed over processes, PSS counts every page once: what the server takes from the machine.
    """
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        if name == "Pss":
            return int(value.split()[0]) / 1024
    raise ValueError(f"no Pss for pid {pid}")


def server_pss(master_pid, roles):
    """Return ``[{pid, role, pss_mib}]`` for a Gunicorn master and every process under it.

    ``roles`` maps pids to what they are (worker, history writer...); others are named by their command.
    """
    rows = []
    for pid in [master_pid, *descendants(master_pid)]:
        try:
            pss = pss_mib(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        role = roles.get(pid) or _command(pid)
        rows.append({"pid": pid, "role": role, "pss_mib": round(pss, 1)})
    return rows


def _command(pid):
    """Return the start of a process's command line (its title, for Gunicorn's processes)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return "?"
    return " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())[:60]
