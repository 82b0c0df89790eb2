"""CPU turns: round robin between tokens, hand-over after a slice, the cap on requests in flight.

Real threads stand in for gevent's greenlets (the module uses the threading API,
which Gunicorn's gevent worker patches); each test waits on conditions with a deadline.
"""

import threading
import time
from types import SimpleNamespace

import pytest

from api import fairness
from api.fairness import CpuTurns, TooManyInFlight

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
    turns.release()
    for thread in threads:
        thread.join(DEADLINE)
    # B arrived last but A has just had a turn: B goes first, then A's requests in order.
    assert order == ["B1", "A2", "A3"]


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
    turns.release()
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

    monkeypatch.setattr(fairness, "threading", SimpleNamespace(Event=_EventCutOffAfterSet))
    doomed = _start(take, "B")
    _wait_until(lambda: turns.waiting() == 1, "B to queue")
    monkeypatch.undo()
    survivor = _start(take, "C")
    _wait_until(lambda: turns.waiting() == 2, "C to queue")
    turns.release()  # to B, whose deadline fires: B must pass it on to C
    doomed.join(DEADLINE)
    survivor.join(DEADLINE)
    assert outcomes == ["B cut off", "C scored"]
    assert not turns._busy


def test_scores_in_slices_equal_one_whole_batch_and_give_turns_between():
    from api.service import ModelRegistry
    from model.artifacts import DEFAULT_DIR

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
