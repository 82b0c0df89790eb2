"""The rate limiter's memory:// storage: counts as limits' MemoryStorage does, swept at most once a second."""

import time_machine

from api.web import limitstore
from api.web.limits import LIMIT_STORAGE
from api.web.limitstore import SweptMemoryStorage


class _Timer:
    """Stands in for threading.Timer: counts the sweeps started, never runs one."""

    started = 0

    def __init__(self, interval, function):
        self.function = function

    def start(self):
        type(self).started += 1

    def is_alive(self):
        return False


def test_memory_uris_open_the_swept_storage_and_others_are_left_alone():
    assert limitstore.storage_uri("memory://") == "sentiment-memory://"
    assert limitstore.storage_uri("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_the_app_counts_in_the_swept_storage(app):
    events = LIMIT_STORAGE.of(app)
    assert isinstance(events._limiter.limiter.storage, SweptMemoryStorage)


def test_counts_expire_with_their_window_without_a_sweep():
    storage = SweptMemoryStorage()
    with time_machine.travel(1_000_000.0, tick=False) as clock:
        assert storage.incr("k", 60) == 1
        assert storage.incr("k", 60) == 2
        clock.shift(61)
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1


def test_at_most_one_sweep_starts_a_second(monkeypatch):
    monkeypatch.setattr(limitstore.threading, "Timer", _Timer)
    storage = SweptMemoryStorage()
    _Timer.started = 0
    now = [storage._swept_at]
    monkeypatch.setattr(limitstore.time, "monotonic", lambda: now[0])
    for _ in range(100):
        storage.incr("k", 60)
    assert _Timer.started == 0  # MemoryStorage itself would have started one for each
    now[0] += limitstore.SWEEP_SECONDS
    for _ in range(100):
        storage.incr("k", 60)
    assert _Timer.started == 1
