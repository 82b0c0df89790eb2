"""The framework floor: our authenticated no-op and 1-tweet predict against a bare Flask app, one run.

The bare reference (bench/bare.py) runs on the same Gunicorn settings, worker class, TLS
certificate and worker count as our server (bench/bare_conf.py reads gunicorn.conf.py). wrk drives
both, in rounds that alternate which goes first, so that a shared machine's drift hits both
alike; each side's figure is the median of its rounds. Issue 18 asks for the no-op at 0.75x and
the 1-tweet predict at 0.65x the bare app's requests/s.
"""

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import wrk
from tests.e2e import OPENSSL_CONF, ROOT, client_context, wait_for_port, wait_until

ROUNDS = 5
CONNECTIONS = 8  # as the main bench's no-op: both workers busy, latency still low
WARM_UP_S = 2
# Issue 18's bars: ours over the bare app's requests/s.
BARS = {"noop": 0.75, "predict_1": 0.65}
# Issue 18's bars for start-up (to /readyz) and the memory of every server process together.
STARTUP_BAR_S = 3.0
PSS_BAR_MIB = 300.0
# Each side of a round: (name, what wrk asks of which server).
SIDES = ("bare", "noop", "predict_1")
BARE_APP = ("--config", "python:bench.bare_conf", "bench.bare:app")
START_TIMEOUT_S = 60


@dataclass
class Bare:
    """A running bare reference: where it listens and its process."""

    url: str
    process: subprocess.Popen


@contextmanager
def bare_server(tmp: Path, certs: Path, workers: int):
    """Start the bare reference on ``certs`` (a folder with server.crt and server.key); stop it on exit."""
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": "0",
        "WORKERS": str(workers),
        "OPENSSL_CONF": str(OPENSSL_CONF),
        "API_TLS_CERT": str(certs / "server.crt"),
        "API_TLS_KEY": str(certs / "server.key"),
    }
    log_path = tmp / "bare.log"
    with open(log_path, "wb") as log:
        command = [sys.executable, "-m", "gunicorn", *BARE_APP]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"https://localhost:{wait_for_port(log_path, process)}/"
        context = client_context(certs / "ca.crt")
        first = "the bare reference's first answer"
        wait_until(lambda: _answers(url, context), first, timeout=START_TIMEOUT_S)
        yield Bare(url, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url, context):
    """Return True once ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def measure(server, bare, body, seconds, wrk_path, rounds=ROUNDS, connections=CONNECTIONS):
    """Alternate wrk runs on the bare app, our no-op and our 1-tweet predict; return runs and summary.

    ``server`` is ours (tests.e2e.Server), ``bare`` the reference, ``body`` a 1-tweet JSON file.
    """
    targets = {
        "bare": (bare.url, "none", None),
        "noop": (server.url + "/api/v1/model", server.token, None),
        "predict_1": (server.url + "/api/v1/predict?store=false", server.token, body),
    }
    runs = alternate(targets, seconds, wrk_path, rounds, connections, "floor")
    return {"connections": connections, "rounds": rounds, "seconds": seconds, "runs": runs, **summary(runs)}


def alternate(targets, seconds, wrk_path, rounds, connections, label):
    """Warm every side up, then run wrk on each in ``rounds`` rounds of rotating order; return the runs.

    ``targets`` maps each side's name to (url, token, body file or None); ``label`` starts its lines.
    """
    for url, token, payload in targets.values():
        wrk.run(url, token, payload, connections, WARM_UP_S, wrk_path)
    sides = tuple(targets)
    width = max(map(len, sides))
    runs = []
    for round_ in range(rounds):
        # Each round in another order, so that no side always follows the same one.
        shift = round_ % len(sides)
        for side in sides[shift:] + sides[:shift]:
            time.sleep(wrk.SETTLE_S)
            url, token, payload = targets[side]
            row = wrk.run(url, token, payload, connections, seconds, wrk_path)
            row.update(side=side, round=round_)
            runs.append(row)
            rate = row["requests_per_s"]
            print(f"  {label} {side:<{width}} round {round_}: {rate:>8,.0f} req/s", flush=True)
    return runs


def summary(runs):
    """Return each side's median requests/s, ours over the bare app's, and whether each bar is met."""
    rates, ratios = over_bare(runs)
    ratios = {side: ratios[side] for side in BARS if side in ratios}
    return {
        "rps": rates,
        "over_bare": ratios,
        "meets": {side: ratio is not None and ratio >= BARS[side] for side, ratio in ratios.items()},
        "errors": sum(row["non_2xx"] + row["socket_errors"] for row in runs),
    }


def over_bare(runs):
    """Return each side's median requests/s, and each over the bare side's (None without one)."""
    rates = {}
    for row in runs:
        rates.setdefault(row["side"], []).append(row["requests_per_s"])
    medians = {side: statistics.median(values) for side, values in rates.items()}
    bare = medians.get("bare")
    return medians, {side: round(rate / bare, 3) if bare else None for side, rate in medians.items()}


def table(floor):
    """Return the floor's results as a plain-text table and its verdict."""
    lines = [
        f"Framework floor: wrk, {floor['connections']} connections, {floor['rounds']} alternating rounds of"
        f" {floor['seconds']} s (medians); the bare app is plain Flask on the same Gunicorn, gevent and TLS",
        "| side | req/s | req/s per round | over the bare app | bar |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for side in SIDES:
        rates = [row["requests_per_s"] for row in floor["runs"] if row["side"] == side]
        per_round = " / ".join(f"{rate:,.0f}" for rate in rates)
        ratio = floor["over_bare"].get(side)
        shown = f"{ratio:.2f}x" if ratio is not None else "1.00x" if side == "bare" else "-"
        bar = f"{BARS[side]:.2f}x ({_verdict(floor['meets'][side])})" if side in BARS else ""
        rate = floor["rps"].get(side, float("nan"))
        lines.append(f"| {side} | {rate:,.0f} | {per_round} | {shown} | {bar} |")
    lines.append(f"errors (non-2xx or socket) over every run: {floor['errors']}")
    return "\n".join(lines)


def startup_memory_table(result):
    """Return start-up and each server process's PSS after the warm-up, with the bars, as text.

    ``result`` holds ``startup_s``, ``pss_after_warmup`` (bench.memory.server_pss) and ``pss_total_mib``.
    """
    startup, total = result["startup_s"], result["pss_total_mib"]
    lines = [
        f"Start to /readyz: {startup:.2f} s (bar {STARTUP_BAR_S:g} s: {_verdict(startup <= STARTUP_BAR_S)})",
        "Memory after the warm-up, both models loaded (proportional set size: shared pages split between"
        " the processes that share them, so the sum counts each page once)",
        "| process | pid | PSS MiB |",
        "| --- | ---: | ---: |",
    ]
    rows = result["pss_after_warmup"]
    lines += [f"| {row['role']} | {row['pid']} | {row['pss_mib']:.1f} |" for row in rows]
    lines.append(f"| all {len(result['pss_after_warmup'])} processes | | {total:.1f} |")
    lines.append(f"bar {PSS_BAR_MIB:g} MiB: {_verdict(total <= PSS_BAR_MIB)}")
    return "\n".join(lines)


def _verdict(met):
    """Return how a table says whether a bar is met."""
    return "met" if met else "NOT met"
