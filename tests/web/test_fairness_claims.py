"""README "Hostile clients and faults", scoring that takes turns: what no other test pins. A token past
API_MAX_IN_FLIGHT gets a JSON 429 from the app; the slice is 10 ms and predict scores in chunks of it;
a scorer lets ready I/O run (gevent.idle) before it hands the CPU on."""

import threading
import time

import gevent
from gevent import monkey

from api.ops.tokens import create_token
from api.web import extensions as ext
from api.web import fairness
from api.web.fairness import CPU_TURNS, CpuTurns

DEADLINE = 10.0


def test_a_token_past_its_in_flight_cap_gets_a_json_429_and_others_are_served(make_app, tokens, auth_header):
    app = make_app(MAX_IN_FLIGHT=1)
    client = app.test_client()
    other = {"Authorization": f"Bearer {create_token(tokens[0], 'bob')}"}
    # alice's one request in flight, as another greenlet of the worker would hold it.
    with CPU_TURNS.of(app).admitted("alice"):
        refused = client.post("/api/v1/predict", json={"a": "hi"}, headers=auth_header)
        served = client.post("/api/v1/predict", json={"a": "hi"}, headers=other)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_in_flight"
    assert served.status_code == 200
    assert client.post("/api/v1/predict", json={"a": "hi"}, headers=auth_header).status_code == 200


def test_predict_scores_in_chunks_of_the_10_ms_slice(make_app, auth_header, monkeypatch):
    app = make_app()
    turns = CPU_TURNS.of(app)
    assert (turns.slice_seconds, turns.max_in_flight) == (0.01, 8)
    registry = ext.MODEL.of(app)
    asked = []
    score = registry.score

    def spy(*args, **kwargs):
        """Note the chunk length predict asks for, then score."""
        asked.append(kwargs.get("chunk_seconds"))
        return score(*args, **kwargs)

    monkeypatch.setattr(registry, "score", spy)
    assert app.test_client().post("/api/v1/predict", json={"a": "hi"}, headers=auth_header).status_code == 200
    assert asked == [0.01]


def _wait_until(condition, what):
    """Poll ``condition`` until it holds; fail naming ``what`` after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)  # polling loop with a deadline


def test_a_scorer_lets_io_run_before_it_hands_the_cpu_on():
    order, at_pause = [], []
    turns = CpuTurns(
        max_in_flight=8, slice_seconds=0.0, pause=lambda: at_pause.append((turns._holder, list(order)))
    )
    a_holds = threading.Event()

    def scorer_a():
        """Hold the turn until B waits, then use up a slice."""
        with turns.turn("A") as turn:
            a_holds.set()
            _wait_until(lambda: turns.waiting() == 1, "B to queue")
            turn.pause_if_due()
            order.append("A")

    def scorer_b():
        """Wait for a turn."""
        with turns.turn("B"):
            order.append("B")

    a = threading.Thread(target=scorer_a, daemon=True)
    a.start()
    assert a_holds.wait(DEADLINE)
    b = threading.Thread(target=scorer_b, daemon=True)
    b.start()
    a.join(DEADLINE)
    b.join(DEADLINE)
    assert not a.is_alive() and not b.is_alive()
    # The I/O pause came while A still held the turn and B had not run; then B went, then A again.
    assert at_pause == [("A", [])]
    assert order == ["B", "A"]


def test_under_gevent_the_pause_is_gevent_idle(monkeypatch):
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: name == "threading")
    assert fairness._io_pause() is gevent.idle
