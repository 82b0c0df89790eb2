"""How soon a prediction's history row is stored after its answer: README "Prediction history".

With `make api-start` running (SQLite history, the default), send --requests predicts one after the
other, each with a fresh id, and time from the end of each answer to the moment its row can be read
from the history database (polled read-only every --poll seconds, at most --deadline seconds). The row
is listed by GET /api/v1/predictions from then on; the listing itself is not polled, since the
default rate limit (60/minute) would refuse most of the polls. Prints each delay's median, 90th
percentile and largest value.

    TOKEN=sa_... .venv/bin/python scripts/history-delay.py [--requests 30]
"""

import argparse
import http.client
import json
import os
import sqlite3
import ssl
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="https://localhost:5000", help="the running server")
    parser.add_argument("--ca", type=Path, default=ROOT / "certs" / "ca.crt", help="the CA to trust")
    parser.add_argument("--db", type=Path, default=ROOT / "instance" / "history.db", help="its history")
    parser.add_argument("--requests", type=int, default=30, help="predicts to time (rate limit: 60/minute)")
    parser.add_argument("--poll", type=float, default=0.001, help="seconds between two reads of the database")
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds to wait for one row at most")
    return parser.parse_args()


def predict(url: str, context: ssl.SSLContext, token: str, tweet_id: str) -> None:
    """Send one predict of one tweet keyed ``tweet_id``; raise on anything but 200."""
    body = json.dumps({tweet_id: "history delay probe, a lovely day"})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    where = urlsplit(url)
    host, port = where.hostname or "localhost", where.port or 443
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=30)
    try:
        conn.request("POST", "/api/v1/predict", body=body, headers=headers)
        answer = conn.getresponse()
        text = answer.read()
    finally:
        conn.close()
    if answer.status != 200:
        raise RuntimeError(f"predict answered {answer.status}: {text[:200]!r}")


def stored_after(db: Path, tweet_id: str, poll: float, deadline: float) -> float | None:
    """Return the seconds until a row keyed ``tweet_id`` is readable in ``db``, or None past ``deadline``."""
    start = time.perf_counter()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        while time.perf_counter() - start < deadline:
            if conn.execute("SELECT 1 FROM predictions WHERE tweet_id = ?", (tweet_id,)).fetchone():
                return time.perf_counter() - start
            time.sleep(poll)  # polling loop with a deadline
    return None


def main() -> int:
    """Time --requests predicts' history rows; print the summary; return the exit status."""
    args = arguments()
    token = os.environ.get("TOKEN", "")
    if not token:
        print("error: set TOKEN to a token of the running server", file=sys.stderr)
        return 2
    context = ssl.create_default_context(cafile=str(args.ca))
    delays = []
    for _ in range(args.requests):
        tweet_id = f"delay-{uuid.uuid4().hex}"
        predict(args.url, context, token, tweet_id)
        delay = stored_after(args.db, tweet_id, args.poll, args.deadline)
        if delay is None:
            print(f"error: no history row for {tweet_id} after {args.deadline} s", file=sys.stderr)
            return 1
        delays.append(delay * 1000)
    delays.sort()
    p90 = delays[min(len(delays) - 1, int(0.9 * len(delays)))]
    print(
        f"{len(delays)} predicts: history row stored {statistics.median(delays):.1f} ms after the answer"
        f" (median; 90th percentile {p90:.1f} ms, largest {delays[-1]:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
