"""The last verified set of models, kept for a worker that starts while the artifacts folder fails.

Once a worker has loaded a set (at its start or on a reload), it copies the bytes it verified into a
private folder the Gunicorn master made (one sub-folder per set, ``current`` naming the newest). A
worker that starts while the artifacts folder holds a set that fails (one the running workers
refused), to replace a worker that died, loads that copy instead, checked hash by hash again: failing
to boot would make Gunicorn stop the whole server.
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

from model.errors import ArtifactError
from model.paths import AnyPath
from model.serving import artifacts
from model.serving.artifacts import MANIFEST
from model.serving.registry import ModelRegistry, ModelSet

log = logging.getLogger(__name__)

# The link to the newest kept set, in the master's folder.
CURRENT = "current"
# A set that cannot be served: the artifacts' own errors, and those of a file that passed its hash
# check but that its model class cannot rebuild (from_dict's KeyError, TypeError, ValueError).
UNSERVABLE = (ArtifactError, KeyError, TypeError, ValueError)


def keep(source: AnyPath, served: ModelSet, folder: Path) -> bool:
    """Copy ``source``'s manifest and model files into ``folder``, if they are still ``served``'s.

    Returns whether the copy is in place: False if the folder changed since ``served`` was loaded
    from it, or the copy could not be written (a full disk: the server goes on without it).
    """
    try:
        raw = (Path(source) / MANIFEST).read_bytes()
        manifest = json.loads(raw)
        entries = manifest["models"]
        if {name: entry["version"] for name, entry in entries.items()} != served.versions():
            return False
        payloads = {e["file"]: artifacts.read_verified(source, e["file"], manifest) for e in entries.values()}
        name = hashlib.sha256(raw).hexdigest()[:16]
        if not (folder / name).exists():
            staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
            for file, payload in payloads.items():
                (staging / file).write_bytes(payload)
            (staging / MANIFEST).write_bytes(raw)
            try:
                staging.rename(folder / name)
            except OSError:  # another worker kept the same set first
                shutil.rmtree(staging, ignore_errors=True)
        link = folder / f".{CURRENT}-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(name)
        link.replace(folder / CURRENT)
    except (OSError, AttributeError, *UNSERVABLE):  # AttributeError: a manifest replaced by a non-object
        return False
    return True


def load(registry: ModelRegistry, directory: AnyPath, default: str | None, folder: Path | None) -> None:
    """Load ``directory``'s set into ``registry`` and keep a copy; if it fails, load the kept one.

    A set with other models than the kept one is refused too, as the running workers refuse it
    (``same_models``). Raises what the load raised when there is no kept set (the server's first
    workers): a server never starts with models it cannot vouch for.
    """
    kept = folder / CURRENT if folder is not None else None
    try:
        registry.load(directory, default)
        if kept is not None and kept.exists():
            same_models(artifacts.read_manifest(kept)["models"], registry.current().models)
    except UNSERVABLE as exc:
        if kept is None or not kept.exists():
            raise
        registry.load(kept, default)
        log.error(
            "the artifacts folder fails (%s: %s); this worker serves the last verified set: %s",
            type(exc).__name__,
            exc,
            ", ".join(f"{n} {v}" for n, v in registry.current().versions().items()),
        )
        return
    if folder is not None:
        keep(directory, registry.current(), folder)


def same_models(old: Collection[str], new: Collection[str]) -> None:
    """Raise ArtifactError if ``new`` names other models than ``old``: ``?model=``'s choices are fixed."""
    if set(old) != set(new):
        raise ArtifactError(
            f"the new manifest's models ({', '.join(new)}) are not the served ones"
            f" ({', '.join(old)}): adding or removing a model needs a restart"
        )
