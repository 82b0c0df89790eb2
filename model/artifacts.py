"""Versioned model artifacts: JSON model files checked against a SHA-256 manifest.

No pickle or joblib anywhere: a model file is plain JSON data, and it is parsed
only from the exact bytes whose hash matched the manifest.
"""

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from model.classifier import FrequencyLogisticModel
from model.errors import ArtifactError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "artifacts"
DEFAULT_MODEL = "freqlr"


def dump_json(data):
    """Serialise ``data`` canonically, so equal models give byte-identical files."""
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _write_atomic(path, payload):
    """Write bytes to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def save(model, directory, *, name, metrics, training_data, created=None):
    """Write ``model`` as ``<name>.json`` and record it in the manifest; return its entry."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = dump_json(model.to_dict())
    digest = hashlib.sha256(payload).hexdigest()
    filename = f"{name}.json"
    _write_atomic(directory / filename, payload)

    manifest = _read_manifest(directory) if (directory / MANIFEST).exists() else _empty_manifest()
    entry = {
        "file": filename,
        "version": f"v{model.to_dict()['format_version']}-{digest[:12]}",
        "kind": "word-frequency features + logistic regression",
        "params": model.get_params(),
        "metrics": metrics,
        "training_data": training_data,
    }
    manifest["models"][name] = entry
    manifest["files"][filename] = digest
    manifest["created"] = created or datetime.now(UTC).replace(microsecond=0).isoformat()
    manifest.setdefault("default_model", name)
    _write_atomic(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
    return entry


def _empty_manifest():
    """Return a manifest with no models."""
    return {"manifest_version": MANIFEST_VERSION, "models": {}, "files": {}}


def _read_manifest(directory):
    """Return the parsed manifest of ``directory`` or raise ArtifactError naming it."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise ArtifactError(f"manifest missing: {path}") from exc
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"manifest unreadable: {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        raise ArtifactError(f"manifest has an unsupported layout: {path}")
    return manifest


def read_verified(directory, filename, manifest):
    """Return the bytes of ``filename`` after checking them against the manifest hash."""
    expected = manifest.get("files", {}).get(filename)
    path = Path(directory) / filename
    if not isinstance(expected, str):
        raise ArtifactError(f"{path} is not listed in {MANIFEST}")
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"artifact missing or unreadable: {path} ({exc.strerror})") from exc
    actual = hashlib.sha256(payload).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise ArtifactError(
            f"artifact {path} fails its SHA-256 check (manifest {expected[:12]}..., file {actual[:12]}...):"
            " it was altered; retrain with `make train` or restore it from git"
        )
    return payload


def load(directory=DEFAULT_DIR, name=None):
    """Load one verified model; return ``(model, manifest entry)``."""
    manifest = _read_manifest(directory)
    name = name or manifest.get("default_model", DEFAULT_MODEL)
    entry = manifest.get("models", {}).get(name)
    if not isinstance(entry, dict):
        raise ArtifactError(f"model {name!r} is not in {Path(directory) / MANIFEST}")
    payload = read_verified(directory, entry["file"], manifest)
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ArtifactError(f"{Path(directory) / entry['file']} is not valid JSON: {exc}") from exc
    return FrequencyLogisticModel.from_dict(data), entry
