"""The bench's numbers: the ratios the issues ask for, a table, and a plot."""

import math
import statistics

from matplotlib.figure import Figure

from bench import faults, floor, hostile, tokens


def ratios(result):
    """Return the headline ratios of one bench run (all from the same run)."""
    inproc = {row["batch"]: row for row in result["in_process"]}
    http = result["https"]
    best = {}
    for row in http["runs"]:
        key = row["scenario"]
        if key not in best or row["requests_per_s"] > best[key]["requests_per_s"]:
            best[key] = row
    noop, single, big = best["noop"], best["predict_1"], best["predict_1000"]
    history = history_ratios(http["runs"])
    # The server's share of the machine: every core, less what wrk itself kept busy
    # while it drove the 1000-tweet load, capped at the number of workers.
    cores_left = result["machine"]["cores"] - big["client_cpu_share"]
    server_cores = min(http["workers"], cores_left)
    expected = inproc[1000]["served_tweets_per_s"] * server_cores
    return {
        "inprocess_speedup_vs_naive": {b: round(r["speedup"], 1) for b, r in inproc.items()},
        "predict1_over_noop_rps": round(single["requests_per_s"] / noop["requests_per_s"], 2),
        "predict1000_tweets_over_inprocess_capacity": round(big["tweets_per_s"] / expected, 2),
        "server_cores_counted": round(server_cores, 2),
        # p50 with history on over off, per connection count: 1 is latency, more is capacity.
        "history_on_over_off_p50_100": history or None,
        # The server's CPU per 100-tweet request (workers and history writer, its catch-up
        # after the load included), history on over off: what history costs in all.
        "history_on_over_off_cpu_100": history_cpu_ratio(http["runs"]),
        **history_catch_up(http["runs"]),
        **token_ratio(result.get("tokens")),
        **floor_ratios(http.get("floor")),
    }


def floor_ratios(floor_result):
    """Return our no-op's and 1-tweet predict's requests/s over the bare app's, if the run measured them."""
    if not floor_result:
        return {}
    return {f"{side}_over_bare_rps": ratio for side, ratio in floor_result["over_bare"].items()}


def token_ratio(token_lookup):
    """Return the no-op's requests/s with many tokens over one token, if the run measured it."""
    if not token_lookup:
        return {}
    return {f"noop_{token_lookup['many_tokens']}_tokens_over_1_token_rps": token_lookup["ratio"]}


def history_catch_up(runs):
    """Return the longest the history writer took to catch up after an "on" run, and the rows it missed."""
    on = [r for r in runs if "history_catch_up_s" in r]
    if not on:
        return {}
    return {
        "history_catch_up_s_max": max(r["history_catch_up_s"] for r in on),
        "history_rows_missing": sum(r["history_rows_missing"] for r in on),
    }


def history_cpu_ratio(runs):
    """Return the median server CPU per request with history on over off, or None."""
    cpu = {"on": [], "off": []}
    for r in runs:
        if r["scenario"].startswith("history_") and "server_cpu_ms_per_request" in r:
            cpu[r["history"]].append(r["server_cpu_ms_per_request"])
    if not cpu["on"] or not cpu["off"]:
        return None
    return round(statistics.median(cpu["on"]) / statistics.median(cpu["off"]), 2)


def history_ratios(runs):
    """Return ``{connections: p50 on / p50 off}`` from the alternating history runs.

    Each side's p50 is the median over its rounds, at the same connection count.
    """
    p50 = {}
    for r in runs:
        if r["scenario"].startswith("history_") and "p50" in r["latency_ms"]:
            p50.setdefault((r["connections"], r["history"]), []).append(r["latency_ms"]["p50"])
    return {
        conns: round(statistics.median(on) / statistics.median(p50[(conns, "off")]), 2)
        for (conns, side), on in sorted(p50.items())
        if side == "on" and (conns, "off") in p50
    }


def table(result):
    """Return the results as plain-text tables for stdout and the README."""
    lines = [
        "In-process, one core (tweets/s)",
        "| batch | served | served, cold memos | naive NLTK | speedup |",
    ]
    lines.append("| ---: | ---: | ---: | ---: | ---: |")
    for r in result["in_process"]:
        lines.append(
            f"| {r['batch']} | {r['served_tweets_per_s']:,.0f} | {r['served_cold_tweets_per_s']:,.0f} "
            f"| {r['naive_tweets_per_s']:,.0f} | {r['speedup']:.1f}x |"
        )
    lines += [
        "",
        "In-process, one core, per served model (tweets/s)",
        "| model | batch | tweets/s | us/tweet |",
    ]
    lines.append("| --- | ---: | ---: | ---: |")
    for r in result.get("in_process_per_model", []):
        lines.append(f"| {r['model']} | {r['batch']} | {r['tweets_per_s']:,.0f} | {r['us_per_tweet']:.1f} |")
    https = result["https"]
    lines += [
        "",
        f"Over HTTPS ({https['workers']} gevent workers, TLS, auth, limiter on; wrk, 1 thread)",
        "| scenario | conns | req/s | tweets/s | p50 ms | p99 ms | errors | server CPU ms/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in https["runs"]:
        lat = r["latency_ms"]
        lines.append(
            f"| {r['scenario']} | {r['connections']} | {r['requests_per_s']:,.0f} | {r['tweets_per_s']:,.0f} "
            f"| {lat.get('p50', math.nan):.2f} | {lat.get('p99', math.nan):.2f} "
            f"| {r['non_2xx'] + r['socket_errors']} | {r.get('server_cpu_ms_per_request', math.nan):.2f} |"
        )
    mem = https["memory"]
    lines += [
        "",
        f"Start to /readyz: {https['startup_s']:.2f} s; worker RSS after warm-up "
        f"{_fmt(mem['after_warmup'])} MiB, after the run {_fmt(mem['after_run'])} MiB"
        + (
            f"; history writer RSS {_fmt(mem['history_writer'])} MiB"
            f" ({_fmt(mem.get('history_writer_private', {}))} MiB of it its own)"
            if mem.get("history_writer")
            else ""
        ),
        f"History after the run (/readyz): {https.get('history')}",
        *(["", _floor_tables(https)] if https.get("floor") else []),
        *(["", tokens.table(result["tokens"])] if result.get("tokens") else []),
        *(["", hostile.table(result["hostile"])] if result.get("hostile") else []),
        *(["", faults.table(result["faults"])] if result.get("faults") else []),
        "",
        "Ratios (this run): " + ", ".join(f"{k} = {v}" for k, v in ratios(result).items()),
    ]
    return "\n".join(lines)


def _floor_tables(https):
    """Return the start-up, memory and framework floor tables of a run."""
    mem = https["memory"]
    startup = {"startup_s": https["startup_s"], **{k: mem[k] for k in ("pss_after_warmup", "pss_total_mib")}}
    return floor.startup_memory_table(startup) + "\n\n" + floor.table(https["floor"])


def _fmt(rss):
    """Format ``{pid: MiB}`` as a short list."""
    return ", ".join(f"{v:.0f}" for v in rss.values())


def plot(result, path):
    """Write a PNG: tweets/s against batch size, and latency percentiles per scenario."""
    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    batches = [r["batch"] for r in result["in_process"]]
    left.plot(batches, [r["served_tweets_per_s"] for r in result["in_process"]], "o-", label="served, 1 core")
    left.plot(
        batches, [r["naive_tweets_per_s"] for r in result["in_process"]], "s--", label="naive NLTK, 1 core"
    )
    for model, style in (("default", "^-"), ("nblr", "v:")):
        best = {}
        for r in result["https"]["runs"]:
            if r.get("tweets") and r.get("model") == model and r.get("history", "off") == "off":
                best[r["tweets"]] = max(best.get(r["tweets"], 0), r["tweets_per_s"])
        left.plot(sorted(best), [best[b] for b in sorted(best)], style, label=f"over HTTPS, {model} model")
    left.set(xscale="log", yscale="log", xlabel="tweets per request (batch)", ylabel="tweets/s")
    left.set_title("Throughput")
    left.legend()
    runs = result["https"]["runs"]
    labels = [f"{r['scenario']}\nc={r['connections']}" for r in runs]
    xs = range(len(runs))
    for p, marker in (("p50", "o"), ("p99", "v")):
        right.plot(xs, [r["latency_ms"].get(p, math.nan) for r in runs], marker, label=p)
    right.set_xticks(list(xs), labels, rotation=60, fontsize=7)
    right.set(yscale="log", ylabel="latency (ms)")
    right.set_title("Latency over HTTPS")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path
