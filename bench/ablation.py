"""What the access log, metrics and request limits cost served: our server without them, one run.

Issue 18's bars (bench/floor.py) are ratios to a bare Flask app. This part measures how far each
of three features' per-request work moves them: our server as ``make api-start`` runs it, and
copies of it with parts taken out (bench/ablated.py, bench/ablated_conf.py), each cumulatively:
the access log, then also the metrics hooks, then also the request limits' hooks. Every server,
and the bare app, is driven by wrk in the same alternating rounds as the floor, so the ratios of
one run compare. Only the bench serves the copies: nothing in the app can turn these parts off.
"""

from collections.abc import Mapping

from bench import floor
from bench.floor import BARS, CONNECTIONS, ROUNDS

# The environment variable naming the parts the ablated server leaves out, comma-separated.
ENV = "BENCH_ABLATE"
# Every part that can be left out: the access log (Gunicorn's), the metrics' and the limits' hooks.
PARTS = ("access", "metrics", "limits")
# The servers compared, by name: each leaves out what it names, the first nothing (the real server).
VARIANTS = {
    "full": (),
    "-access": ("access",),
    "-access-metrics": ("access", "metrics"),
    "-access-metrics-limits": ("access", "metrics", "limits"),
}
# What wrk asks of each server: our no-op, and a 1-tweet predict (the floor's two sides).
REQUESTS = ("noop", "predict_1")
_HEADS = [f"{side} req/s | over bare (bar {BARS[side]:.2f}x)" for side in REQUESTS]


def parts(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Return the parts ``environ`` names to leave out; raise ValueError for a name that is not one."""
    named = tuple(part for part in environ.get(ENV, "").split(",") if part)
    unknown = sorted(set(named) - set(PARTS))
    if unknown:
        raise ValueError(f"{ENV} names {unknown}: the parts are {list(PARTS)}")
    return named


def measure(servers, bare, body, seconds, wrk_path, rounds=ROUNDS, connections=CONNECTIONS):
    """Alternate wrk runs on the bare app and each server's no-op and predict; return runs and summary.

    ``servers`` maps each variant's name to its running server (tests.e2e.Server).
    """
    targets = {"bare": (bare.url, "none", None)}
    for name, server in servers.items():
        targets[f"{name} noop"] = (server.url + "/api/v1/model", server.token, None)
        targets[f"{name} predict_1"] = (server.url + "/api/v1/predict?store=false", server.token, body)
    runs = floor.alternate(targets, seconds, wrk_path, rounds, connections, "ablation")
    return {"connections": connections, "rounds": rounds, "seconds": seconds, "runs": runs, **summary(runs)}


def summary(runs):
    """Return each side's median requests/s and its ratio to the bare app's."""
    medians, ratios = floor.over_bare(runs)
    errors = sum(row["non_2xx"] + row["socket_errors"] for row in runs)
    return {"rps": medians, "over_bare": ratios, "errors": errors}


def table(result):
    """Return the ablation's results as a plain-text table: each server's two ratios and the bars."""
    lines = [
        f"Ablation: wrk, {result['connections']} connections, {result['rounds']} alternating rounds of"
        f" {result['seconds']} s (medians); each server leaves out what its name says",
        f"bare app: {result['rps'].get('bare', float('nan')):,.0f} req/s",
        "",
        "| server | " + " | ".join(_HEADS) + " |",
        "| --- |" + " ---: | ---: |" * len(REQUESTS),
    ]
    for name in VARIANTS:
        cells = []
        for side in REQUESTS:
            key = f"{name} {side}"
            if key not in result["rps"]:
                cells += ["", ""]
                continue
            cells += [f"{result['rps'][key]:,.0f}", f"{result['over_bare'][key]:.2f}x"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"\nnon-2xx and socket errors over every run: {result['errors']}")
    return "\n".join(lines)
