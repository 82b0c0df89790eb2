"""Models reloaded without a restart: each worker watches the artifacts' manifest and swaps in a new set.

Every API_MODEL_RELOAD_SECONDS a thread of the worker (a greenlet under gevent) stats the manifest:
no request ever reads the disk for it. When the manifest has changed since the last attempt, the new
set is loaded and verified beside the event loop (``beside_the_loop``) and swapped in by one reference
assignment (model/serving/registry.py): requests in flight finish with the set they took, the next
ones get the new one. A set that fails (a hash, a missing file, a model that cannot be rebuilt, a
model added or removed) is refused: the old set keeps serving, the refusal is logged and counted,
and that manifest is not tried again until it changes. Publish a new version by writing its files,
then its manifest last, by a rename.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gevent
from flask import Flask
from gevent import monkey

from api.web import metrics
from api.web.extensions import Key
from api.web.verified import UNSERVABLE, keep, same_models
from model.paths import AnyPath
from model.serving.artifacts import MANIFEST
from model.serving.registry import ModelRegistry, ModelSet, load_set

log = logging.getLogger(__name__)

OK, REFUSED = metrics.RELOAD_OUTCOMES
# What stat() tells of the manifest: a rename brings a new inode, a rewrite a new mtime or size.
# None: there is no manifest to read (or it cannot be stat()ed), itself a state that a reload refuses.
Stamp = tuple[int, int, int] | None
T = TypeVar("T")


def stamp(path: Path) -> Stamp:
    """Return what stat() says of ``path`` that changes when it is replaced or rewritten, None if absent."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def beside_the_loop(work: Callable[[], T]) -> T:
    """Run ``work`` in an OS thread of gevent's pool when gevent runs this process, else right here.

    Loading a set is CPU work (~0.1 s for the committed models, more for larger ones): in a greenlet
    it would stop every request of the worker for that long. In a thread it takes turns on the GIL
    with the event loop (every 5 ms, Python's switch interval), so requests go on, each slower while
    the load lasts. Nothing in ``work`` may log or touch gevent: it runs outside the hub's thread.
    An UNSERVABLE error is raised here, in the caller's greenlet, as if ``work`` had run here (gevent
    would also print it as a plain traceback).
    """
    if not monkey.is_module_patched("threading"):
        return work()
    result: T | BaseException = gevent.get_hub().threadpool.apply(_caught, (work,))
    if isinstance(result, UNSERVABLE):
        raise result
    return result  # type: ignore[return-value]  # T itself is never one of UNSERVABLE's exceptions


def _caught(work: Callable[[], T]) -> T | BaseException:
    """Return what ``work`` returns, or the UNSERVABLE error it raised (carried to the caller's thread)."""
    try:
        return work()
    except UNSERVABLE as exc:
        return exc


class ModelWatch:
    """One worker's watch of its artifacts folder, and the swap of a new verified set into its registry."""

    def __init__(
        self,
        registry: ModelRegistry,
        directory: AnyPath,
        default: str | None,
        seconds: float,
        on_outcome: Callable[[str, ModelSet | None, ModelSet | None], None],
        kept: Path | None = None,
        offload: Callable[[Callable[[], Any]], Any] = beside_the_loop,
    ) -> None:
        """Stamp the manifest now: made before the first load, a change during that load is seen.

        ``on_outcome(outcome, old, new)`` hears of every attempt (old and new are None when refused);
        ``kept``: where a swapped-in set is copied for workers that start later (api/web/verified.py).
        """
        self.registry = registry
        self.directory = directory
        self.default = default
        self.seconds = seconds
        self.on_outcome = on_outcome
        self.kept = kept
        self.offload = offload
        self.manifest = Path(directory) / MANIFEST
        self.stamp = stamp(self.manifest)
        self._thread: threading.Thread | None = None

    def poll(self) -> str | None:
        """Look at the manifest once; reload if it changed since the last attempt; return the outcome.

        None: unchanged, nothing done.
        """
        now = stamp(self.manifest)
        if now == self.stamp:
            return None
        # Before loading: a manifest replaced during the load is seen at the next poll.
        self.stamp = now
        old = self.registry.current()
        try:
            new: ModelSet = self.offload(lambda: load_set(self.directory, self.default))
            same_models(old.models, new.models)
        except UNSERVABLE as exc:
            log.error(
                "model reload refused, still serving %s: %s: %s",
                _described(old),
                type(exc).__name__,
                exc,
            )
            self.on_outcome(REFUSED, None, None)
            return REFUSED
        self.registry.swap(new)
        log.info("models reloaded: now serving %s (was %s)", _described(new), _described(old))
        if self.kept is not None:
            kept = self.kept
            self.offload(lambda: keep(self.directory, new, kept))
        self.on_outcome(OK, old, new)
        return OK

    def run(self) -> None:
        """Poll every ``seconds``, for the life of the process."""
        while True:
            time.sleep(self.seconds)
            self.poll()

    def start(self) -> bool:
        """Start polling in a daemon thread (a greenlet under gevent), once; False if the watch is off."""
        if self.seconds <= 0 or self._thread is not None:
            return False
        self._thread = threading.Thread(target=self.run, name="model-watch", daemon=True)
        self._thread.start()
        return True


WATCH: Key[ModelWatch] = Key("sentiment_model_watch")


def init_app(
    app: Flask,
    registry: ModelRegistry,
    directory: AnyPath,
    default: str | None,
    seconds: float,
    kept: Path | None = None,
) -> None:
    """Give ``app`` an unstarted watch (see ``start``) of ``directory`` for ``registry``; before the load."""

    def outcome(result: str, old: ModelSet | None, new: ModelSet | None) -> None:
        """Count the attempt; after a swap, publish the versions now served."""
        metrics.count_reload(app, result)
        if old is not None and new is not None:
            metrics.publish_models(app, old.infos.values(), new.infos.values())

    WATCH.put(app, ModelWatch(registry, directory, default, seconds, outcome, kept))


def start(app: Flask) -> bool:
    """Start ``app``'s watch (gunicorn.conf.py's post_worker_init, in each worker); False if it is off."""
    return WATCH.of(app).start()


def _described(models: ModelSet) -> str:
    """Return ``freqlr v1-... (default), nblr v1-...`` for the log."""
    return ", ".join(
        f"{name} {info['version']}{' (default)' if name == models.default else ''}"
        for name, info in models.infos.items()
    )
