"""Modules the Gunicorn master imports once for every process it forks: shared pages, not copies.

Every worker imported numpy, SciPy, scikit-learn, NLTK and the model code itself, about 100 MiB
of objects and a second of CPU each (make bench); serving now needs only numpy and SciPy's sparse
matrices of them. Imported in the master, they are inherited by
each forked process, which shares their pages with the master until it writes to them; the
garbage collector is told to leave them alone (``gc.freeze``), so that its passes do not write to
every page. Only computation is imported here, nothing that opens files, sockets or threads of its
own that gevent (patched in each worker, after the fork) would need to know about; the app itself
is still built in each worker, after gevent's patching.
"""

import ctypes
import gc
import importlib
from collections.abc import Sequence

# Pure computation: arrays, sparse matrices, the lexicon, the model code. Serving imports neither
# scikit-learn nor NLTK (model/serving/tfidf.py, porter.py): ~95 MiB and ~1.1 s fewer here.
SHARED_MODULES = (
    "numpy",
    "scipy.sparse",
    "vaderSentiment.vaderSentiment",
    "model.serving.artifacts",
    "model.serving.registry",
)


def preload() -> None:
    """Import SHARED_MODULES, then freeze every object made so far out of the collector's sight."""
    gc.disable()
    for name in SHARED_MODULES:
        importlib.import_module(name)
    gc.freeze()
    gc.enable()


def preload_apps(import_paths: Sequence[str]) -> None:
    """Import the modules of Gunicorn's dirty apps (``module:Class`` paths), then freeze what they made.

    Gunicorn's dirty arbiter imports them in the master anyway, to read each class's ``workers``, after
    ``on_starting``, with nothing else to do meanwhile: the history writer's brings SQLAlchemy, ~0.3 s.
    Imported while the master waits for its migrations, they delay nothing, and frozen, their pages
    stay shared with every process forked after.
    """
    gc.disable()
    for path in import_paths:
        importlib.import_module(path.partition(":")[0])
    gc.freeze()
    gc.enable()


def release() -> None:
    """In a worker that is exiting: hand the frozen objects back to the collector, and collect.

    Frozen, garbage cycles made in the master (a logging handler that Gunicorn replaced) would be
    freed only as the interpreter tears its modules down, gevent's among them, and their clean-up
    would fail there with a traceback in the log.
    """
    gc.unfreeze()
    gc.collect()


def trim() -> None:
    """In a worker that has built its app: collect, and hand the heap's free pages back to the kernel.

    Parsing the models' JSON leaves several MiB freed but kept by the C allocator in each worker
    (measured 3-5 MiB); glibc's ``malloc_trim`` returns them. Elsewhere (musl, macOS) nothing is done.
    """
    gc.collect()
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    malloc_trim(0)
