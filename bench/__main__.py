"""Run the benchmark: ``python -m bench [--seconds 5] [--workers N] [--only PART]`` (make bench)."""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import ablation, explain, faults, floor, history, hostile, inprocess, memory, report, tokens, wrk
from bench.history import measured_run
from model.paths import DEFAULT_DATA
from model.serving import artifacts
from model.training.data import read_rows
from tests.e2e import (
    SERVER_ARGS,
    dirty_arbiter_pids,
    history_writer_pids,
    running_server,
    wait_ready,
    worker_pids,
)

RESULTS = Path(__file__).resolve().parent / "results"
# Gunicorn's config and app for a server with parts left out (bench/ablation.py).
ABLATED_SERVER = ("--config", "python:bench.ablated_conf", "bench.ablated:build()")
# (scenario, tweets per request, connection counts, query): small requests at low
# and high concurrency; big ones need fewer connections to keep every worker busy.
# The predict runs measure model, validation and limiter over HTTPS (issue 4), so
# they skip the prediction history (?store=false); HISTORY_* below measures what
# storing it costs (bench/history.py). *_nblr use the stronger model.
SCENARIOS = (
    ("noop", 0, (8, 64), ""),
    ("predict_1", 1, (8, 64), "?store=false"),
    ("predict_100", 100, (4, 16), "?store=false"),
    ("predict_1000", 1000, (2, 8), "?store=false"),
    ("predict_1_nblr", 1, (8,), "?model=nblr&store=false"),
    ("predict_100_nblr", 100, (8,), "?model=nblr&store=false"),
    ("predict_1000_nblr", 1000, (8,), "?model=nblr&store=false"),
)


def _parser():
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="tweets to send (CSV with a text column)")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each load run")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Gunicorn workers")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for JSON and PNG results")
    parser.add_argument(
        "--only",
        choices=("all", "tokens", "hostile", "explain", "floor", "startup", "ablation"),
        default="all",
        help="tokens: only the token-lookup runs (no-op with 1 and 10,000 tokens); hostile: only the timed"
        " hostile load and faults (the figures the live tests do not bound); explain: only the in-process"
        " cost of ?explain=true and of the identity headers; floor: start-up, each process's memory (PSS) and"
        " the no-op and 1-tweet predict against a bare Flask app on the same server; startup: the floor's"
        " start-up and memory alone (seconds, not minutes); ablation: the floor's no-op and predict with the"
        " access log, the metrics and the request limits left out one after another (a few minutes, not in"
        " the default); default: every part but the ablation",
    )
    return parser


def _bodies(folder, texts):
    """Write one JSON body per batch size; return ``{size: path}``."""
    paths = {}
    for _, size, _, _ in SCENARIOS:
        if size:
            path = folder / f"body-{size}.json"
            path.write_text(json.dumps({str(i): texts[i] for i in range(size)}))
            paths[size] = path
    return paths


def measure_https(texts, seconds, workers, wrk_path):
    """Start the real server (TLS, auth, limits on) and drive it with wrk; return the numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bodies = _bodies(tmp, texts)
        with _bench_server(tmp, workers) as (server, startup):
            predict_url = server.url + "/api/v1/predict"
            after_warmup, pss = _warm_up(server, bodies, wrk_path)
            with floor.bare_server(tmp, server.certs, workers) as bare:
                print("framework floor (bare app, no-op, 1-tweet predict, alternating)...", flush=True)
                floor_result = floor.measure(server, bare, bodies[1], seconds, wrk_path)
            runs = []
            for scenario, size, connections, query in SCENARIOS:
                url = server.url + ("/api/v1/model" if size == 0 else "/api/v1/predict" + query)
                for conns in connections:
                    row = measured_run(server, url, bodies.get(size), conns, seconds, wrk_path)
                    row.update(
                        scenario=scenario,
                        tweets=size,
                        model=query.partition("model=")[2].partition("&")[0] or "default",
                        history="off" if "store=false" in query else "on",
                        tweets_per_s=row["requests_per_s"] * size,
                    )
                    runs.append(row)
                    print(f"  {scenario:<18} c={conns:<3} {row['requests_per_s']:>9,.0f} req/s", flush=True)
            history_body = bodies[history.HISTORY_TWEETS]
            runs += history.measure_history(server, predict_url, history_body, seconds, wrk_path)
            after_run = memory.rss(worker_pids(server))
            writer_rss = memory.rss(history_writer_pids(server))
            # Forked from the master, the writer shares its pages until it writes to them.
            writer_private = {pid: round(memory.private_mib(pid), 1) for pid in writer_rss}
            history_state = _readyz(server)["history"]
    return {
        "history": history_state,
        "workers": workers,
        "startup_s": startup,
        "runs": runs,
        "floor": floor_result,
        "memory": {
            "after_warmup": after_warmup,
            "after_run": after_run,
            "history_writer": writer_rss,
            "history_writer_private": writer_private,
            "pss_after_warmup": pss,
            "pss_total_mib": round(sum(row["pss_mib"] for row in pss), 1),
        },
    }


@contextmanager
def _bench_server(tmp, workers, ablate=()):
    """Start the server as ``make api-start`` does, limits out of reach; yield it and its start-up (s).

    ``ablate`` names parts to leave out (bench/ablation.py's PARTS): then the ablated copy is served.
    """
    env = {
        "API_RATE_LIMIT": "1000000000/minute",
        "API_WORK_LIMIT": "1000000000000/minute",
        # One token on up to 64 connections: the per-token cap on requests in flight is not measured here.
        "API_MAX_IN_FLIGHT": "100000",
        "ACCESS_LOG": str(tmp / "access.log"),
    }
    # Every row kept: retention's large DELETEs would otherwise fall inside some runs only.
    env["API_HISTORY_MAX_ROWS"] = str(10**9)
    if ablate:
        env[ablation.ENV] = ",".join(ablate)
    args = ABLATED_SERVER if ablate else SERVER_ARGS
    start = time.monotonic()
    with running_server(tmp, env=env, workers=workers, ready=False, args=args) as server:
        wait_ready(server.url, server.context, server.process, server.log_path)
        yield server, time.monotonic() - start


def _warm_up(server, bodies, wrk_path):
    """Warm the workers up (100-tweet predicts); return their RSS and every server process's PSS after it."""
    wrk.run(server.url + "/api/v1/predict?store=false", server.token, bodies[100], 8, 2, wrk_path)
    workers = worker_pids(server)
    roles = {server.process.pid: "master"} | dict.fromkeys(workers, "worker")
    roles |= dict.fromkeys(dirty_arbiter_pids(server), "dirty arbiter")
    writers = history_writer_pids(server)
    roles |= dict.fromkeys(writers, "dirty worker (history writer, jobs supervisor)")
    roles |= {pid: "embedded job worker" for writer in writers for pid in memory.children(writer)}
    return memory.rss(workers), memory.server_pss(server.process.pid, roles)


def measure_floor(texts, seconds, workers, wrk_path, bare_floor=True):
    """Only the start-up, memory and (unless not ``bare_floor``) framework floor parts of measure_https."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bodies = _bodies(tmp, texts)
        with _bench_server(tmp, workers) as (server, startup):
            _, pss = _warm_up(server, bodies, wrk_path)
            result = {}
            if bare_floor:
                with floor.bare_server(tmp, server.certs, workers) as bare:
                    result = floor.measure(server, bare, bodies[1], seconds, wrk_path)
    total = round(sum(row["pss_mib"] for row in pss), 1)
    return {"startup_s": startup, "pss_after_warmup": pss, "pss_total_mib": total, **result}


def measure_ablation(texts, seconds, workers, wrk_path):
    """Serve each of bench/ablation.py's variants and the bare app at once; alternate wrk runs on them."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        bodies = _bodies(tmp, texts)
        servers = {}
        for index, (name, parts) in enumerate(ablation.VARIANTS.items()):
            folder = tmp / f"server-{index}"
            folder.mkdir()
            servers[name], _ = stack.enter_context(_bench_server(folder, workers, parts))
            _warm_up(servers[name], bodies, wrk_path)
        certs = next(iter(servers.values())).certs
        bare = stack.enter_context(floor.bare_server(tmp, certs, workers))
        return ablation.measure(servers, bare, bodies[1], seconds, wrk_path)


def _readyz(server):
    """Return the server's /readyz document (history writes that failed or were dropped)."""
    with urllib.request.urlopen(server.url + "/readyz", context=server.context, timeout=10) as response:
        return json.load(response)


def main(argv=None):
    """Run every part (or only the one asked for); print the table; write JSON (and PNG); return 0."""
    args = _parser().parse_args(argv)
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        print("error: wrk not found; `make bench` installs it (Debian package wrk)", file=sys.stderr)
        return 2
    if args.only != "all":
        return _only(args, wrk_path)
    texts = [text for text, _ in read_rows(args.data)]
    models, _ = artifacts.load_all()
    model, entry = models["freqlr"]
    print("in-process pipeline...", flush=True)
    in_process = inprocess.measure(model, texts)
    per_model = inprocess.measure_models({name: m for name, (m, _) in models.items()}, texts)
    print("explain and identity headers, in process...", flush=True)
    explained = explain.measure(texts)
    print("over HTTPS...", flush=True)
    https = measure_https(texts, args.seconds, args.workers, wrk_path)
    print("token lookup over HTTPS...", flush=True)
    token_lookup = tokens.measure(args.seconds, args.workers, wrk_path)
    print("hostile load and faults, timed...", flush=True)
    timed = {"hostile": hostile.measure(), "faults": faults.measure()}
    result = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load_generator": "wrk -t1"},
        "model": entry["version"],
        "in_process": in_process,
        "in_process_per_model": per_model,
        "explain": explained,
        "https": https,
        "tokens": token_lookup,
        **timed,
    }
    result["ratios"] = report.ratios(result) | explain.ratios(explained)
    latest = _write(result, args.out, "bench")
    plot = report.plot(result, args.out / "latest.png")
    print()
    print(report.table(result))
    print("\n" + explain.table(explained))
    print(f"\nresults: {latest}, plot: {plot}")
    return 0


def _only(args, wrk_path):
    """Run only the part asked for; print its table; write <part>-<time>.json and latest-<part>.json."""
    result = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load_generator": "wrk -t1"},
        "workers": args.workers,
    }
    if args.only == "tokens":
        print("token lookup over HTTPS...", flush=True)
        result["tokens"] = tokens.measure(args.seconds, args.workers, wrk_path)
        text = tokens.table(result["tokens"])
    elif args.only == "floor":
        print("start-up, memory and the framework floor over HTTPS...", flush=True)
        texts = [text for text, _ in read_rows(args.data)]
        result["floor"] = measure_floor(texts, args.seconds, args.workers, wrk_path)
        text = floor.startup_memory_table(result["floor"]) + "\n\n" + floor.table(result["floor"])
    elif args.only == "startup":
        print("start-up and memory...", flush=True)
        texts = [text for text, _ in read_rows(args.data)]
        result["startup"] = measure_floor(texts, args.seconds, args.workers, wrk_path, bare_floor=False)
        text = floor.startup_memory_table(result["startup"])
    elif args.only == "ablation":
        print("the floor with the access log, metrics and limits left out, over HTTPS...", flush=True)
        texts = [text for text, _ in read_rows(args.data)]
        result["ablation"] = measure_ablation(texts, args.seconds, args.workers, wrk_path)
        text = ablation.table(result["ablation"])
    elif args.only == "explain":
        print("explain and identity headers, in process...", flush=True)
        result["explain"] = explain.measure([text for text, _ in read_rows(args.data)])
        text = explain.table(result["explain"])
    else:
        print("hostile load and faults, timed...", flush=True)
        result |= {"hostile": hostile.measure(), "faults": faults.measure()}
        text = hostile.table(result["hostile"]) + "\n" + faults.table(result["faults"])
    latest = _write(result, args.out, args.only)
    print()
    print(text)
    print(f"\nresults: {latest}")
    return 0


def _write(result, out, prefix):
    """Write ``result`` as ``<prefix>-<time>.json`` and as the latest of its kind; return that path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = result["created"].replace(":", "")
    latest = out / ("latest.json" if prefix == "bench" else f"latest-{prefix}.json")
    for path in (out / f"{prefix}-{stamp}.json", latest):
        path.write_text(json.dumps(result, indent=2))
    return latest


if __name__ == "__main__":
    sys.exit(main())
