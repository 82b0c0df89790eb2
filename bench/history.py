"""What storing the prediction history costs a server under load (issue 6), for ``make bench``."""

import re
import time

from api.history import messages as history_messages
from bench import memory, wrk
from tests.e2e import log_records

# History's cost (issue 6): 100-tweet requests storing to SQLite (the default) against
# ?store=false, at one connection (latency when the server has room: the question
# "does history slow my request?") and at saturating ones (the capacity it takes).
# On and off runs alternate, HISTORY_ROUNDS times each, so that drift in a shared
# machine's speed hits both alike; p50 is the median over the rounds. Last, because
# the history writer may still be draining its queue afterwards.
# Writing is left to a low-priority writer process (api/history/writer.py), which may still be
# catching up when a run's load stops: an "on" run's server CPU includes the catch-up, and the
# next run starts only once the writer has written every row (or stopped making progress).
HISTORY_TWEETS = 100
HISTORY_CONNECTIONS = (1, 4, 16)
HISTORY_ROUNDS = 5
HISTORY_IDLE_S = 3.0  # the writer has caught up when its row count stops moving this long (s)...
HISTORY_CATCH_UP_MAX_S = 120.0  # ...or at the latest after this long


def measured_run(server, url, body, conns, seconds, wrk_path, history=None):
    """Run wrk once; add the server's CPU time per request, which drifts less than wall time.

    With ``history`` (a WriterProgress), wait for the writer to store the run's rows,
    and count the CPU it took to do so.
    """
    # Let the previous run's connections close first: a worker still finishing an abandoned
    # request holds them, and the fair-accept board (api/server/balance.py) counts them.
    time.sleep(wrk.SETTLE_S)
    before = memory.server_cpu(server.process.pid)
    written = history.written() if history else 0
    row = wrk.run(url, server.token, body, conns, seconds, wrk_path)
    if history:
        expected = written + row["requests"] * HISTORY_TWEETS
        row["history_catch_up_s"], row["history_rows_missing"] = history.wait(expected)
    used = memory.server_cpu(server.process.pid) - before
    row["server_cpu_ms_per_request"] = 1000 * used / max(row["requests"], 1)
    return row


def measure_history(server, predict_url, body, seconds, wrk_path):
    """Return alternating runs of 100-tweet requests with and without history, as scenarios."""
    runs = []
    progress = WriterProgress(server)
    for conns in HISTORY_CONNECTIONS:
        for round_ in range(HISTORY_ROUNDS):
            for history, query in (("off", "?store=false"), ("on", "")):
                watch = progress if history == "on" else None
                row = measured_run(server, predict_url + query, body, conns, seconds, wrk_path, history=watch)
                row.update(
                    scenario=f"history_{history}_{HISTORY_TWEETS}",
                    tweets=HISTORY_TWEETS,
                    model="default",
                    history=history,
                    round=round_,
                    tweets_per_s=row["requests_per_s"] * HISTORY_TWEETS,
                )
                runs.append(row)
                caught_up = (
                    f", writer caught up {row['history_catch_up_s']:.1f} s after the load"
                    f" ({row['history_rows_missing']} rows missing)"
                    if watch
                    else ""
                )
                print(
                    f"  history {history:<3} c={conns:<3} round {round_}"
                    f" p50 {row['latency_ms'].get('p50', float('nan')):7.2f} ms,"
                    f" server CPU {row['server_cpu_ms_per_request']:.2f} ms/request{caught_up}",
                    flush=True,
                )
    return runs


class WriterProgress:
    """The count of rows the server's history writer has written, from the state it publishes."""

    def __init__(self, server):
        found = (WRITER_SERVING.fullmatch(r["message"]) for r in log_records(server.log()))
        paths = [match[1] for match in found if match]
        if not paths:
            raise RuntimeError("the server's log names no history writer socket")
        self.socket_path = paths[-1]

    def written(self):
        """Return the rows written so far (0 before the writer's first report)."""
        return (history_messages.read_status(self.socket_path) or {}).get("written", 0)

    def wait(self, expected):
        """Wait until ``expected`` rows are written, or the count stops moving; return (seconds, missing)."""
        start = moved = time.monotonic()
        last = self.written()
        while last < expected and time.monotonic() - start < HISTORY_CATCH_UP_MAX_S:
            time.sleep(0.05)
            now = self.written()
            if now != last:
                last, moved = now, time.monotonic()
            elif time.monotonic() - moved > HISTORY_IDLE_S:
                break
        return round(time.monotonic() - start, 2), max(0, expected - last)


WRITER_SERVING = re.compile(r"history writer serving (.+)")
