"""The embedded broker's message files, by name: what the API reads of its queue without kombu.

The broker itself (api/jobs/fsbroker.py) is kombu's transport; the API's HTTP workers only count the
messages waiting (/metrics) and check its folder (/readyz), which needs neither kombu nor Celery
(~8 MiB in every worker that imported them only for that).
"""

import os
import time
import uuid
from pathlib import Path

# A message file's name ends with ".<queue>.msg", as kombu's filesystem transport names them.
SUFFIX = ".msg"


def message_name(queue: str) -> str:
    """Return a new message file name: sorted by time of sending, unique, naming its queue."""
    return f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}{SUFFIX}"


def queue_of(name: str) -> str | None:
    """Return the queue a message file name names, or None for any other file."""
    stamp, dot, rest = name.partition(".")
    return rest.removesuffix(SUFFIX) if dot and "_" in stamp and rest.endswith(SUFFIX) else None


def count(folder: Path, queue: str) -> int:
    """Return the messages waiting in ``queue`` (claimed ones not counted)."""
    return sum(1 for name in os.listdir(folder) if queue_of(name) == queue)
