"""CPU turns: round robin between tokens, hand-over after a slice, the cap on requests in flight.

Real threads stand in for gevent's greenlets (the module uses the threading API,
which Gunicorn's gevent worker patches); each test waits on conditions with a deadline.
"""

import threading
import time
from types import SimpleNamespace

import pytest

from api.web import fairness
from api.web.fairness import CpuTurns, TooManyInFlight

DEADLINE = 10.0


def _wait_until(condition, what):
    """Poll ``condition`` until it holds; fail naming ``what`` after DEADLINE seconds (a polling loop)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)  # polling loop with a deadline


def _start(target, *args):
    """Start a daemon thread running ``target(*args)``."""
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_turns_go_round_robin_between_owners_not_requests():
    turns = CpuTurns(max_in_flight=8, pause=lambda: None)
    order = []

    def take(owner, name):
        with turns.turn(owner):
            order.append(name)

    turns.acquire("A")  # A's first request holds the turn
    threads = []
    for queued, (owner, name) in enumerate([("A", "A2"), ("A", "A3"), ("B", "B1")], start=1):
        threads.append(_start(take, owner, name))
        _wait_until(lambda n=queued: turns.waiting() == n, f"{name} to queue")
    turns.release("A", 0.05)
    for thread in threads:
        thread.join(DEADLINE)
    # B arrived last but A has just had a turn: B goes first, then A's requests in order.
    assert order == ["B1", "A2", "A3"]


def test_the_owner_that_has_had_least_cpu_goes_next_whoever_came_first():
    turns = CpuTurns(max_in_flight=8, pause=lambda: None)
    order, go = [], threading.Event()

    def hold(owner):
        with turns.turn(owner) as turn:
            order.append(owner)
            go.wait(DEADLINE)
            turn.started -= 1.0  # as if it had scored for a second

    def take(owner):
        with turns.turn(owner):
            order.append(owner)

    turns.acquire("X")
    heavy = _start(hold, "Y")
    _wait_until(lambda: turns.waiting() == 1, "Y to queue")
    turns.release("X", 0.0)
    _wait_until(lambda: order == ["Y"], "Y to hold the turn")
    threads = [_start(take, "X")]
    _wait_until(lambda: turns.waiting() == 1, "X to queue")
    threads.append(_start(take, "Z"))
    _wait_until(lambda: turns.waiting() == 2, "Z to queue")
    go.set()
    for thread in (heavy, *threads):
        thread.join(DEADLINE)
    # X came back first, but Z starts a slice ahead of the least served: Z, then X.
    assert order == ["Y", "Z", "X"]
    assert turns.used("Y") >= 0.9  # its second, less the slice it started ahead


def test_a_scorer_hands_the_cpu_on_after_each_slice():
    turns = CpuTurns(max_in_flight=8, slice_seconds=0.0, pause=lambda: None)
    steps = []

    def score(owner, wait_for_other):
        with turns.turn(owner) as turn:
            for step in range(3):
                if wait_for_other:
                    _wait_until(lambda: turns.waiting() == 1, "the other scorer to queue")
                    wait_for_other = False
                steps.append(f"{owner}{step}")
                turn.pause_if_due()

    first = _start(score, "A", True)
    _wait_until(lambda: turns._busy, "A to hold the turn")
    second = _start(score, "B", False)
    first.join(DEADLINE)
    second.join(DEADLINE)
    assert steps == ["A0", "B0", "A1", "B1", "A2", "B2"]
    assert turns.waiting() == 0
    assert not turns._busy


def test_a_slice_not_yet_used_up_keeps_the_turn():
    paused = []
    turns = CpuTurns(max_in_flight=1, slice_seconds=60.0, pause=lambda: paused.append(1))
    with turns.turn("A") as turn:
        turn.pause_if_due()
        assert turn.holding
    assert paused == []


def test_requests_in_flight_are_capped_per_owner():
    turns = CpuTurns(max_in_flight=2, pause=lambda: None)
    with turns.admitted("A"), turns.admitted("A"):
        with pytest.raises(TooManyInFlight) as refused, turns.admitted("A"):
            pass
        with turns.admitted("B"):  # another token is not affected
            assert turns.in_flight("B") == 1
        assert turns.in_flight("A") == 2
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "1"}
    assert turns.in_flight("A") == 0
    with turns.admitted("A"):  # the count went back down
        assert turns.in_flight("A") == 1


class _CutOff(Exception):
    """Stands in for a deadline (gevent.Timeout) that ends a wait."""


class _EventCutOff(threading.Event):
    """An Event whose wait is cut off, as a request's deadline cuts off a greenlet."""

    def wait(self, timeout=None):
        raise _CutOff


def test_a_waiter_cut_off_leaves_the_queue_and_strands_no_turn(monkeypatch):
    turns = CpuTurns(max_in_flight=8, pause=lambda: None)
    turns.acquire("A")
    monkeypatch.setattr(fairness, "threading", SimpleNamespace(Event=_EventCutOff, Lock=threading.Lock))
    with pytest.raises(_CutOff):
        turns.acquire("B")
    monkeypatch.undo()
    assert turns.waiting() == 0
    turns.release("A", 0.0)
    with turns.turn("C"):  # the turn is free again
        assert turns._busy


class _EventCutOffAfterSet(threading.Event):
    """An Event whose deadline fires just as the turn is handed to it."""

    def wait(self, timeout=None):
        super().wait(DEADLINE)
        raise _CutOff


def test_a_waiter_cut_off_after_the_hand_over_passes_the_turn_on(monkeypatch):
    turns = CpuTurns(max_in_flight=8, pause=lambda: None)
    turns.acquire("A")
    outcomes = []

    def take(owner):
        try:
            with turns.turn(owner):
                outcomes.append(f"{owner} scored")
        except _CutOff:
            outcomes.append(f"{owner} cut off")

    survivor = _start(take, "C")
    _wait_until(lambda: turns.waiting() == 1, "C to queue")
    monkeypatch.setattr(fairness, "threading", SimpleNamespace(Event=_EventCutOffAfterSet))
    doomed = _start(take, "B")  # the newest newcomer starts a slice ahead: it is handed the turn first
    _wait_until(lambda: turns.waiting() == 2, "B to queue")
    monkeypatch.undo()
    turns.release("A", 0.0)  # to B, whose deadline fires: B must pass it on to C
    doomed.join(DEADLINE)
    survivor.join(DEADLINE)
    assert outcomes == ["B cut off", "C scored"]
    assert not turns._busy


def test_scores_in_slices_equal_one_whole_batch_and_give_turns_between():
    from model.serving.artifacts import DEFAULT_DIR
    from model.serving.registry import ModelRegistry

    registry = ModelRegistry().load(DEFAULT_DIR)
    tweets = {f"k{i}": f"tweet {i} " + "so good not bad " * (i % 40) for i in range(600)}
    calls = []
    sliced = registry.score(tweets, "all", between=lambda: calls.append(1))
    whole = {
        name: model.decision_function(list(tweets.values())).tolist()
        for name, model in registry.models.items()
    }
    assert sliced == whole
    # Chunks of a millisecond: many chances to hand the CPU on, and still the same scores.
    fine = registry.score(tweets, "all", between=lambda: calls.append(2), chunk_seconds=0.001)
    assert fine == whole
    assert calls.count(2) > calls.count(1) >= len(registry.models)
