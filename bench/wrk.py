"""Load over HTTPS with wrk (Debian's package): run it, parse what it prints."""

import re
import resource
import subprocess
import time
from pathlib import Path

LUA = Path(__file__).with_name("request.lua")
# Between runs: let the previous run's connections close first (a worker still finishing an abandoned
# request holds them, and the fair-accept board, api/server/balance.py, counts them).
SETTLE_S = 0.5
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_LATENCY_LINE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)


def to_ms(value, unit):
    """Convert a wrk duration (value and unit) to milliseconds."""
    return float(value) * _UNITS[unit]


def parse(output):
    """Return requests/s, latency percentiles (ms), and error counts from wrk's --latency output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", output, re.M)
    if not rps or not total:
        raise ValueError(f"not wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    latency = {f"p{p}": to_ms(v, u) for p, v, u in _LATENCY_LINE.findall(output)}
    return {
        "requests_per_s": float(rps.group(1)),
        "requests": int(total.group(1)),
        "latency_ms": latency,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }


def run(url, token, body_file, connections, seconds, wrk="wrk"):
    """Run wrk with one thread; return its parsed results plus the CPU time wrk itself used."""
    env = {"WRK_TOKEN": token, "WRK_BODY_FILE": str(body_file or "")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    result = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA), url],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 60,
        check=True,
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    parsed = parse(result.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    parsed["client_cpu_share"] = cpu / wall  # cores the load generator itself kept busy
    parsed["connections"] = connections
    return parsed
