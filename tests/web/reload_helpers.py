"""Helpers of the reload tests: a copy of the artifacts, a new version made beside it, and its publishing.

A new version is the committed freqlr re-saved, through model.serving.artifacts.save, with another
``folds`` (a training setting: the weights, and so the answers, stay the same; the file and its version
change). It is made in a staging copy of the folder, then renamed in: changed files first, the
manifest last, as the README tells an operator to publish.
"""

import json
import os
import shutil
from pathlib import Path

from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR, MANIFEST

CHANGED = "freqlr"


def copy_artifacts(dest: Path) -> Path:
    """Copy the committed artifacts to ``dest`` (a folder the test owns); return it."""
    shutil.copytree(DEFAULT_DIR, dest)
    return dest


def stage(live: Path, staging: Path, folds: int, tamper: bool = False) -> str:
    """Copy ``live`` to ``staging`` and re-save freqlr there with ``folds``; return its new version.

    ``tamper``: then change one byte of the new file, after its hash went into the manifest.
    """
    shutil.copytree(live, staging)
    model, entry = artifacts.load(staging, CHANGED)
    model.folds = folds
    saved = artifacts.save(
        model, staging, name=CHANGED, metrics=entry["metrics"], training_data=entry["training_data"]
    )
    if tamper:
        path = staging / saved["file"]
        payload = bytearray(path.read_bytes())
        payload[-1:] = b" "  # the final newline: still JSON, no longer the bytes that were hashed
        path.write_bytes(bytes(payload))
    return saved["version"]


def publish(staging: Path, live: Path) -> None:
    """Rename the files of ``staging`` that differ from ``live``'s into it, then its manifest, last."""
    old = artifacts.read_manifest(live)["files"]
    new = artifacts.read_manifest(staging)["files"]
    for name, digest in new.items():
        if old.get(name) != digest:
            os.replace(staging / name, live / name)
    os.replace(staging / MANIFEST, live / MANIFEST)


def rewrite_manifest(live: Path, change) -> None:
    """Apply ``change`` to ``live``'s manifest (a dict) and write it back by a rename."""
    manifest = artifacts.read_manifest(live)
    change(manifest)
    tmp = live / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, live / MANIFEST)


def versions(live: Path) -> dict[str, str]:
    """Return ``{name: version}`` as ``live``'s manifest states them."""
    return {name: entry["version"] for name, entry in artifacts.read_manifest(live)["models"].items()}
