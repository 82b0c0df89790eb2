"""The CPU cost of ``?explain=true`` and of the identity headers, in process (Flask test client, one core).

Explain: the whole predict request (validation, budget, scoring in turns, the explanation, JSON) of 1
and of 1000 held-out tweets, plain (``?store=false``) against explained (``?store=false&explain=true``),
per model. The two alternate in short slices, ROUNDS times, so that drift in a shared machine's speed
hits both alike; each figure is the median over the rounds, the ratio the median of the rounds' ratios.
The 1000-tweet ratios are what api/web/explaining.py's EXPLAIN_COST_FACTORS charge, per model format.

Identity headers: the step the predict view adds for them (api/web/identity.py's ``identity_headers``
built from the model set's infos, then put on a response), timed alone over many calls, against the
plain one-tweet request of the same run.
"""

import json
import statistics
import tempfile
import time
from pathlib import Path

from flask import Response

from api.ops.tokens import create_token
from api.settings import Settings
from api.web import create_app
from api.web import extensions as ext
from api.web.explaining import explain_factor
from api.web.identity import identity_headers
from bench.inprocess import one_core
from model.serving.artifacts import DEFAULT_DIR

BATCHES = (1, 1000)
MODELS = ("freqlr", "nblr")
ROUNDS = 5
SLICE_S = 0.4  # each side's share of a round; a 1000-tweet nblr request is longer, and runs once at least
HEADER_CALLS = 20_000
PREDICT = "/api/v1/predict?store=false"


def _app(folder: Path):
    """Return an app on the committed artifacts whose limits never throttle, and its bearer header."""
    tokens = folder / "tokens.json"
    token = create_token(tokens, "bench")
    settings = Settings(
        TOKENS_FILE=tokens,
        TOKEN_RELOAD_SECONDS=0,
        ARTIFACTS_DIR=DEFAULT_DIR,
        RATE_LIMIT="1000000000/minute",
        RATE_LIMIT_STORAGE="memory://",
        WORK_LIMIT="1000000000000/minute",
        MAX_IN_FLIGHT=100000,
        HISTORY_URL="none",
        JOBS_DIR=folder / "jobs",
        JOBS_DATABASE_URL=f"sqlite:///{folder / 'jobs.db'}",
    )
    return create_app(settings, {"TESTING": True}), {"Authorization": f"Bearer {token}"}


def _ms_per_request(client, url, body, headers, seconds):
    """Return the mean CPU milliseconds of POSTing ``body`` to ``url``, for about ``seconds`` (once at least).

    CPU time of this thread, not wall time: other processes of a shared machine do not count.
    """
    done, start, cpu = 0, time.perf_counter(), time.thread_time()
    while True:
        response = client.post(url, data=body, headers=headers, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        done += 1
        if time.perf_counter() - start >= seconds:
            return 1000 * (time.thread_time() - cpu) / done


def measure_explain(client, headers, texts, rounds=ROUNDS, seconds=SLICE_S, models=MODELS, batches=BATCHES):
    """Return rows per model and batch: plain and explained ms per request (medians) and their ratio."""
    rows = []
    for model in models:
        for batch in batches:
            body = json.dumps({str(i): texts[i] for i in range(batch)}).encode()
            plain_url, explain_url = f"{PREDICT}&model={model}", f"{PREDICT}&model={model}&explain=true"
            for url in (plain_url, explain_url):  # warm the memos, as a serving worker's are
                _ms_per_request(client, url, body, headers, 0)
            plain, explained = [], []
            for round_ in range(rounds):
                # Alternate which goes first, too.
                order = ((plain, plain_url), (explained, explain_url))
                for out, url in order if round_ % 2 == 0 else reversed(order):
                    out.append(_ms_per_request(client, url, body, headers, seconds))
            ratios = [e / p for e, p in zip(explained, plain, strict=True)]
            rows.append(
                {
                    "model": model,
                    "tweets": batch,
                    "plain_ms": statistics.median(plain),
                    "explain_ms": statistics.median(explained),
                    "ratio": statistics.median(ratios),
                    "ratios": [round(r, 2) for r in ratios],
                }
            )
            print(
                f"  explain {model:<6} {batch:>4} tweets: {statistics.median(ratios):.2f}x plain", flush=True
            )
    return rows


def measure_headers(app, rounds=ROUNDS, calls=HEADER_CALLS):
    """Return the microseconds of building the identity headers and adding them to a response, per call.

    For one model and for ``?model=all``; the median over ``rounds`` runs of ``calls`` calls.
    """
    served = ext.MODEL.of(app).current()
    out = {}
    for label, names in (("one model", [served.default]), ("all models", list(served.models))):
        response = Response()
        timings = []
        for _ in range(rounds):
            start = time.thread_time()
            for _ in range(calls):
                response.headers.update(identity_headers(served.infos, names))
            timings.append(1e6 * (time.thread_time() - start) / calls)
        out[label] = statistics.median(timings)
    return out


def measure(texts, calls=HEADER_CALLS, **explain_options):
    """Return the explain rows and the identity headers' cost, with its share of a plain 1-tweet request.

    ``explain_options`` go to ``measure_explain`` (rounds, seconds, models, batches).
    """
    with tempfile.TemporaryDirectory() as tmp, one_core():
        app, headers = _app(Path(tmp))
        rows = measure_explain(app.test_client(), headers, texts, **explain_options)
        header_us = measure_headers(app, calls=calls)
    served = ext.MODEL.of(app).current()
    for row in rows:
        row["charged"] = explain_factor(served.models[row["model"]])
    single = next(r for r in rows if r["model"] == served.default and r["tweets"] == 1)
    return {
        "explain": rows,
        "identity_headers_us": header_us,
        "plain_1_tweet_us": 1000 * single["plain_ms"],
        "identity_headers_share_of_1_tweet": header_us["one model"] / (1000 * single["plain_ms"]),
    }


def ratios(part):
    """Return the headline figures of this part for the run's ratios."""
    return {
        "explain_over_plain": {f"{r['model']}_{r['tweets']}": round(r["ratio"], 2) for r in part["explain"]},
        "identity_headers_share_of_1_tweet": round(part["identity_headers_share_of_1_tweet"], 4),
    }


def table(part):
    """Return this part's figures as plain-text tables."""
    lines = [
        "Explain, in process, one core (Flask test client, whole request, CPU time; medians of alternating"
        " rounds)",
        "| model | tweets | plain CPU ms/request | explained CPU ms/request | explained / plain | charged |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in part["explain"]:
        lines.append(
            f"| {r['model']} | {r['tweets']} | {r['plain_ms']:.3f} | {r['explain_ms']:.3f}"
            f" | {r['ratio']:.2f}x | {r['charged']}x |"
        )
    lines += [
        "",
        "Identity headers (X-Model, X-Model-Version): built and added to a response, CPU per request",
    ]
    for label, us in part["identity_headers_us"].items():
        lines.append(f"- {label}: {us:.2f} us")
    lines.append(
        f"- share of a plain 1-tweet request in process ({part['plain_1_tweet_us']:.0f} us):"
        f" {100 * part['identity_headers_share_of_1_tweet']:.2f}%"
    )
    return "\n".join(lines)
