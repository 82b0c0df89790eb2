"""Artifacts to the letter: saving gives the committed bytes and manifest back, and each way a manifest or
a model file can be wrong is refused with its own message. Each test kills mutants of
model/serving/artifacts.py that the behaviour tests let live (`make mutate`)."""

import gzip
import hashlib
import json
import re
import shutil

import pytest

from model.errors import ArtifactError
from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR, MANIFEST

COMMITTED = json.loads((DEFAULT_DIR / MANIFEST).read_bytes())


@pytest.fixture
def copy(tmp_path):
    """A copy of the committed artifacts that a test may damage; returns its folder."""
    return shutil.copytree(DEFAULT_DIR, tmp_path / "artifacts")


def _write_manifest(folder, manifest):
    """Replace the manifest of ``folder``."""
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_json_is_dumped_canonically():
    dumped = artifacts.dump_json({"b": "é", "a": [1, 2.5]})
    assert dumped == '{"a":[1,2.5],"b":"é"}\n'.encode()


def test_saving_the_committed_models_gives_their_bytes_and_entries_back(tmp_path):
    models, default = artifacts.load_all(DEFAULT_DIR)
    out = tmp_path / "new" / "folder"
    for name, (model, entry) in models.items():
        saved = artifacts.save(
            model,
            out,
            name=name,
            metrics=entry["metrics"],
            training_data=entry["training_data"],
            created=COMMITTED["created"],
            compress=entry["file"].endswith(".gz"),
            extra={"reference": entry["reference"]},
        )
        assert saved == entry
        assert (out / entry["file"]).read_bytes() == (DEFAULT_DIR / entry["file"]).read_bytes()
    assert json.loads((out / MANIFEST).read_bytes()) == COMMITTED
    assert (out / MANIFEST).read_bytes() == (DEFAULT_DIR / MANIFEST).read_bytes()
    assert sorted(p.name for p in out.iterdir()) == sorted(["freqlr.json", "nblr.json.gz", MANIFEST])
    assert default == "freqlr"


def test_a_compressed_model_has_a_fixed_timestamp_and_the_best_compression(tmp_path):
    model, _ = artifacts.load(DEFAULT_DIR, "nblr")
    saved = artifacts.save(model, tmp_path, name="x", metrics={}, training_data={}, compress=True)
    payload = (tmp_path / "x.json.gz").read_bytes()
    assert payload[4:8] == b"\0\0\0\0"  # gzip's MTIME field
    assert payload[8] == 2  # XFL 2: compressed with the slowest, best level
    assert saved["version"] == "v3-" + hashlib.sha256(payload).hexdigest()[:12]
    manifest = json.loads((tmp_path / MANIFEST).read_bytes())
    assert manifest["default_model"] == "x"
    assert manifest["files"] == {"x.json.gz": hashlib.sha256(payload).hexdigest()}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", manifest["created"])


def test_a_second_model_keeps_the_first_as_default(tmp_path):
    model, _ = artifacts.load(DEFAULT_DIR, "freqlr")
    artifacts.save(model, tmp_path, name="first", metrics={}, training_data={})
    artifacts.save(model, tmp_path, name="second", metrics={}, training_data={})
    manifest = json.loads((tmp_path / MANIFEST).read_bytes())
    assert manifest["models"]["first"]["file"] == "first.json"  # plain JSON unless asked to compress
    assert manifest["default_model"] == "first"
    assert sorted(manifest["models"]) == ["first", "second"]
    assert manifest["manifest_version"] == 1
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "manifest missing: {path}"),
        (b"{", "manifest unreadable: {path}: Expecting property name"),
        (b"[]", "manifest has an unsupported layout: {path}"),
        (b'{"manifest_version": 2}', "manifest has an unsupported layout: {path}"),
    ],
)
def test_a_manifest_that_is_missing_unreadable_or_of_another_layout_is_named(copy, content, message):
    path = copy / MANIFEST
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    with pytest.raises(ArtifactError, match="^" + re.escape(message.format(path=path))):
        artifacts.read_manifest(copy)


def test_a_file_the_manifest_does_not_list_is_never_read(copy):
    (copy / "extra.json").write_text("{}")
    with pytest.raises(
        ArtifactError, match=f"^{re.escape(str(copy / 'extra.json'))} is not listed in manifest"
    ):
        artifacts.read_verified(copy, "extra.json", COMMITTED)
    with pytest.raises(ArtifactError, match="is not listed"):
        artifacts.read_verified(copy, "freqlr.json", {})


def test_a_missing_file_names_the_system_error(copy):
    (copy / "freqlr.json").unlink()
    with pytest.raises(
        ArtifactError, match=r"^artifact missing or unreadable: .*freqlr\.json \(No such file"
    ):
        artifacts.read_verified(copy, "freqlr.json", COMMITTED)


def test_an_altered_file_names_both_hashes_and_how_to_recover(copy):
    path = copy / "freqlr.json"
    path.write_bytes(path.read_bytes() + b" ")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = COMMITTED["files"]["freqlr.json"]
    message = (
        f"artifact {path} fails its SHA-256 check (manifest {expected[:12]}..., file {actual[:12]}...):"
        " it was altered; retrain with `make train` or restore it from git"
    )
    with pytest.raises(ArtifactError, match="^" + re.escape(message) + "$"):
        artifacts.read_verified(copy, "freqlr.json", COMMITTED)
    assert (
        artifacts.read_verified(DEFAULT_DIR, "freqlr.json", COMMITTED)
        == (DEFAULT_DIR / "freqlr.json").read_bytes()
    )


def test_load_takes_the_default_or_the_named_model(copy):
    assert artifacts.load(copy)[1] == COMMITTED["models"]["freqlr"]
    assert artifacts.load(copy, "nblr")[1] == COMMITTED["models"]["nblr"]
    manifest = dict(COMMITTED, default_model="nblr")
    _write_manifest(copy, manifest)
    assert artifacts.load(copy)[1] == COMMITTED["models"]["nblr"]
    models, default = artifacts.load_all(copy)
    assert list(models) == ["freqlr", "nblr"] and default == "nblr"


def test_the_default_model_is_freqlr_unless_named_and_must_be_a_name():
    assert artifacts.default_name({}) == "freqlr"
    assert artifacts.default_name({"default_model": "nblr"}) == "nblr"
    with pytest.raises(ArtifactError, match=r"^the manifest's default_model is not a model name: \['x'\]$"):
        artifacts.default_name({"default_model": ["x"]})


def test_check_names_every_version_and_the_model_served(copy):
    versions = ", ".join(f"{name} {entry['version']}" for name, entry in COMMITTED["models"].items())
    assert artifacts.check(copy) == f"{copy}: {versions} verified; serving freqlr"
    assert artifacts.check(copy, "nblr").endswith("; serving nblr")
    with pytest.raises(ArtifactError, match=r"^model 'x' is not one of freqlr, nblr$"):
        artifacts.check(copy, "x")
    _write_manifest(copy, {"manifest_version": 1})  # no models, and not even their key
    with pytest.raises(ArtifactError, match=r"^model 'freqlr' is not one of no models$"):
        artifacts.check(copy)


@pytest.mark.parametrize(
    ("file", "payload", "message"),
    [
        ("m.json", b"{", r"m\.json is not valid \(gzipped\) JSON: Expecting"),
        ("m.json.gz", b"{}", r"m\.json\.gz is not valid \(gzipped\) JSON: Not a gzipped file"),
        ("m.json.gz", gzip.compress(b"{"), r"m\.json\.gz is not valid \(gzipped\) JSON: Expecting"),
        ("m.json", b'{"format": "pickle"}', r"m\.json has an unknown model format$"),
        ("m.json", b'{"format": ["freqlr"]}', r"m\.json has an unknown model format$"),
        ("m.json", b"[]", r"m\.json has an unknown model format$"),
    ],
)
def test_a_verified_file_that_is_no_model_is_refused(copy, file, payload, message):
    (copy / file).write_bytes(payload)
    manifest = dict(
        COMMITTED, models={"m": {"file": file}}, files={file: hashlib.sha256(payload).hexdigest()}
    )
    with pytest.raises(ArtifactError, match=f"^{re.escape(str(copy))}/{message}"):
        artifacts._load_entry(copy, manifest, "m")


def test_a_model_the_manifest_does_not_describe_is_named(copy):
    with pytest.raises(ArtifactError, match=f"^model 'm' is not in {re.escape(str(copy / MANIFEST))}$"):
        artifacts._load_entry(copy, dict(COMMITTED, models={"m": "freqlr.json"}), "m")


def test_a_manifest_without_models_names_the_missing_model(copy):
    _write_manifest(copy, {"manifest_version": 1})
    with pytest.raises(ArtifactError, match=r"^model 'freqlr' is not in "):
        artifacts.load(copy)
