"""Versioned model artifacts: JSON model files checked against a SHA-256 manifest.

No pickle or joblib anywhere: a model file is plain JSON data (gzip-compressed
when large, ``.json.gz``), and it is parsed only from the exact bytes whose hash
matched the manifest.
"""

import gzip
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from model.errors import ArtifactError
from model.paths import ARTIFACTS_DIR, AnyPath
from model.serving import classifier, nblr
from model.serving.base import JSONObject, TweetClassifier

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
DEFAULT_DIR = ARTIFACTS_DIR
DEFAULT_MODEL = "freqlr"
# A loaded, verified model and its manifest entry.
Loaded = tuple[TweetClassifier, JSONObject]
# The model classes a file's "format" field may name; nothing else is ever built.
FORMATS: dict[str, type[TweetClassifier]] = {
    classifier.FORMAT: classifier.FrequencyLogisticModel,
    nblr.FORMAT: nblr.NBLogisticModel,
}
KINDS = {
    classifier.FORMAT: "word-frequency features + logistic regression",
    nblr.FORMAT: "NB-weighted word and character n-grams + VADER lexicon + logistic regression",
}


def dump_json(data: JSONObject) -> bytes:
    """Serialise ``data`` canonically, so equal models give byte-identical files."""
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _write_atomic(path: Path, payload: bytes) -> None:
    """Write bytes to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def save(
    model: TweetClassifier,
    directory: AnyPath,
    *,
    name: str,
    metrics: Mapping[str, object],
    training_data: JSONObject,
    created: str | None = None,
    compress: bool = False,
    extra: Mapping[str, object] | None = None,
) -> JSONObject:
    """Write ``model`` as ``<name>.json`` (``.json.gz`` with compress) and record it in the manifest.

    ``extra`` adds fields to the entry (training's drift ``reference``).
    Returns the model's manifest entry. Compression uses a fixed header
    timestamp, so equal models still give byte-identical files.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    data = model.to_dict()
    payload = dump_json(data)
    filename = f"{name}.json"
    if compress:
        payload, filename = gzip.compress(payload, compresslevel=9, mtime=0), filename + ".gz"
    digest = hashlib.sha256(payload).hexdigest()
    _write_atomic(folder / filename, payload)

    manifest = read_manifest(folder) if (folder / MANIFEST).exists() else _empty_manifest()
    entry: JSONObject = {
        "file": filename,
        "version": f"v{data['format_version']}-{digest[:12]}",
        "kind": KINDS[data["format"]],
        "params": model.get_params(),
        "metrics": metrics,
        "training_data": training_data,
        **(extra or {}),
    }
    manifest["models"][name] = entry
    manifest["files"][filename] = digest
    manifest["created"] = created or datetime.now(UTC).replace(microsecond=0).isoformat()
    manifest.setdefault("default_model", name)
    _write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
    return entry


def _empty_manifest() -> JSONObject:
    """Return a manifest with no models."""
    return {"manifest_version": MANIFEST_VERSION, "models": {}, "files": {}}


def read_manifest(directory: AnyPath) -> JSONObject:
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


def read_verified(directory: AnyPath, filename: str, manifest: JSONObject) -> bytes:
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


def load(directory: AnyPath = DEFAULT_DIR, name: str | None = None) -> Loaded:
    """Load one verified model (the manifest's default without a name); return ``(model, entry)``."""
    manifest = read_manifest(directory)
    name = name or default_name(manifest)
    return _load_entry(directory, manifest, name)


def load_all(directory: AnyPath = DEFAULT_DIR) -> tuple[dict[str, Loaded], str]:
    """Load every model of the manifest, each verified; return ``{name: (model, entry)}`` and the default."""
    manifest = read_manifest(directory)
    models = {name: _load_entry(directory, manifest, name) for name in sorted(manifest.get("models", {}))}
    return models, default_name(manifest)


def check(directory: AnyPath = DEFAULT_DIR, name: str | None = None) -> str:
    """Load and verify every model, and that ``name`` (or the default) is one; return a one-line summary.

    Raises ArtifactError naming what is wrong.
    """
    models, default = load_all(directory)
    chosen = name or default
    if chosen not in models:
        raise ArtifactError(f"model {chosen!r} is not one of {', '.join(models) or 'no models'}")
    versions = ", ".join(f"{n} {entry['version']}" for n, (_, entry) in models.items())
    return f"{Path(directory)}: {versions} verified; serving {chosen}"


def default_name(manifest: JSONObject) -> str:
    """Return the name of the manifest's default model."""
    name = manifest.get("default_model", DEFAULT_MODEL)
    if not isinstance(name, str):
        raise ArtifactError(f"the manifest's default_model is not a model name: {name!r}")
    return name


def _load_entry(directory: AnyPath, manifest: JSONObject, name: str) -> Loaded:
    """Load, verify and rebuild the model called ``name``; return ``(model, entry)``."""
    entry = manifest.get("models", {}).get(name)
    if not isinstance(entry, dict):
        raise ArtifactError(f"model {name!r} is not in {Path(directory) / MANIFEST}")
    payload = read_verified(directory, entry["file"], manifest)
    path = Path(directory) / entry["file"]
    try:
        if path.name.endswith(".gz"):
            payload = gzip.decompress(payload)
        data = json.loads(payload)
    except (OSError, EOFError, ValueError) as exc:
        raise ArtifactError(f"{path} is not valid (gzipped) JSON: {exc}") from exc
    # str(): a format field that is not text (a list, say) is unknown too, not a TypeError.
    model_class = FORMATS.get(str(data.get("format"))) if isinstance(data, dict) else None
    if model_class is None:
        raise ArtifactError(f"{path} has an unknown model format")
    return model_class.from_dict(data), entry
