"""The manifest check: an altered, missing or unlisted artifact stops the app from starting."""

import gzip
import json
import re
import shutil

import pytest

from api import constants as c
from model.__main__ import main
from model.errors import ArtifactError
from model.paths import DEFAULT_DATA, PROJECT_ROOT
from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR
from model.training.train import RECIPES, train


@pytest.fixture
def artifact_copy(tmp_path):
    """A copy of the committed artifacts that a test may damage."""
    return shutil.copytree(DEFAULT_DIR, tmp_path / "artifacts")


def test_committed_artifacts_load(make_app):
    app = make_app()
    assert app.extensions[c.EXT_MODEL].ready


def test_tampered_model_file_refuses_to_start(make_app, artifact_copy):
    path = artifact_copy / "freqlr.json"
    data = json.loads(path.read_bytes())
    data["intercept"] += 1.0  # still a valid model, just not the one the manifest vouches for
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"freqlr\.json fails its SHA-256 check"):
        make_app(ARTIFACTS_DIR=artifact_copy)


def test_one_flipped_byte_is_caught(make_app, artifact_copy):
    path = artifact_copy / "freqlr.json"
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(bytes(payload))
    with pytest.raises(ArtifactError, match=r"freqlr\.json"):
        make_app(ARTIFACTS_DIR=artifact_copy)


def test_missing_model_file_is_named(make_app, artifact_copy):
    (artifact_copy / "freqlr.json").unlink()
    with pytest.raises(ArtifactError, match=r"artifact missing or unreadable: .*freqlr\.json"):
        make_app(ARTIFACTS_DIR=artifact_copy)


def _edit_manifest(folder, change):
    """Apply ``change`` to the manifest of ``folder`` (a dict, edited in place) and write it back."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_a_model_file_the_manifest_does_not_list_refuses_to_start(make_app, artifact_copy):
    # A valid model dropped beside the others, and a model entry pointed at it, but no hash for it.
    data = json.loads((artifact_copy / "freqlr.json").read_bytes())
    data["intercept"] += 5.0
    (artifact_copy / "planted.json").write_text(json.dumps(data))
    _edit_manifest(artifact_copy, lambda m: m["models"]["freqlr"].update(file="planted.json"))
    with pytest.raises(ArtifactError, match=r"planted\.json is not listed in manifest\.json"):
        make_app(ARTIFACTS_DIR=artifact_copy)
    assert main(["check", "--artifacts", str(artifact_copy)]) == 1


def test_a_model_file_whose_hash_was_removed_from_the_manifest_refuses_to_start(make_app, artifact_copy):
    _edit_manifest(artifact_copy, lambda m: m["files"].pop("nblr.json.gz"))
    with pytest.raises(ArtifactError, match=r"nblr\.json\.gz is not listed in manifest\.json"):
        make_app(ARTIFACTS_DIR=artifact_copy)


def test_an_unlisted_file_is_never_read(artifact_copy, monkeypatch):
    """The listing is checked before the file is opened: an unlisted path is not even read."""
    shutil.copy(artifact_copy / "freqlr.json", artifact_copy / "freqlr.json.bak")  # there, but not listed
    opened = []
    real = artifacts.Path.read_bytes
    monkeypatch.setattr(artifacts.Path, "read_bytes", lambda self: opened.append(self.name) or real(self))
    manifest = artifacts.read_manifest(artifact_copy)
    with pytest.raises(ArtifactError, match="is not listed"):
        artifacts.read_verified(artifact_copy, "freqlr.json.bak", manifest)
    assert "freqlr.json.bak" not in opened
    assert artifacts.read_verified(
        artifact_copy, "freqlr.json", manifest
    )  # the baseline: a listed file loads


def test_missing_manifest_is_named(make_app, artifact_copy):
    (artifact_copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"manifest missing: .*manifest\.json"):
        make_app(ARTIFACTS_DIR=artifact_copy)


def test_unknown_model_name_is_named(make_app):
    with pytest.raises(ArtifactError, match="'nope' is not in"):
        make_app(MODEL="nope")


def test_check_command_verifies_every_model(capsys):
    assert main(["check", "--artifacts", str(DEFAULT_DIR)]) == 0
    assert re.fullmatch(r".*: freqlr v3-\w+, nblr v3-\w+ verified; serving freqlr\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    ("damage", "args", "message"),
    [
        ("alter", [], r"freqlr\.json fails its SHA-256 check"),
        ("intact", ["--model", "nope"], r"model 'nope' is not one of freqlr, nblr"),
    ],
)
def test_check_command_fails_with_one_line(capsys, artifact_copy, damage, args, message):
    if damage == "alter":
        with open(artifact_copy / "freqlr.json", "ab") as handle:
            handle.write(b" ")
    assert main(["check", "--artifacts", str(artifact_copy), *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and re.search(message, err)


def test_serving_code_never_unpickles():
    root = PROJECT_ROOT
    sources = [p for d in ("api", "model") for p in (root / d).rglob("*.py")] + [root / "wsgi.py"]
    unsafe = re.compile(r"^\s*(?:import|from)\s+(?:c?pickle|joblib|dill|cloudpickle|shelve|marshal)\b", re.M)
    assert len(sources) > 10
    for source in sources:
        assert not unsafe.search(source.read_text()), source


@pytest.mark.data
def test_committed_models_are_what_training_reproduces(tmp_path):
    """The committed artifacts are what `make train` makes from the shared data.

    The settings cross-validation chose are taken from the manifest, so the
    test retrains once per model instead of once per fold and candidate.
    Vocabulary, structure and every setting must be identical; learned numbers
    may differ a little, as floating-point sums do between CPUs and BLAS thread
    counts, and the solver stops where its gradient is small, not at one exact
    point: solved to model.serving.base's SOLVER_TOLERANCE, nblr's weights (of
    the order of 0.01 to 5) came out at most 3e-5 apart between one BLAS thread
    and two, so numbers are compared to 1e-4, or a relative 1e-6 for large ones.
    Any change of data, features or settings moves them by far more.
    """
    manifest = json.loads((DEFAULT_DIR / "manifest.json").read_text())
    settings = {name: entry["params"][RECIPES[name].param] for name, entry in manifest["models"].items()}
    train(DEFAULT_DATA, tmp_path, train_per_class=4000, settings=settings)
    for entry in manifest["models"].values():
        made, committed = (_artifact(folder / entry["file"]) for folder in (tmp_path, DEFAULT_DIR))
        _assert_same(made, committed, entry["file"])


def _artifact(path):
    """Return an artifact's JSON document, gzipped or not."""
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


def _assert_same(made, committed, where):
    """Assert two JSON documents are equal, floats to within 1e-4 (or a relative 1e-6, if larger)."""
    if isinstance(committed, float):
        assert made == pytest.approx(committed, rel=1e-6, abs=1e-4), where
    elif isinstance(committed, dict):
        assert made.keys() == committed.keys(), where
        for key in committed:
            _assert_same(made[key], committed[key], f"{where}.{key}")
    elif isinstance(committed, list):
        assert len(made) == len(committed), where
        for index, (mine, theirs) in enumerate(zip(made, committed, strict=True)):
            _assert_same(mine, theirs, f"{where}[{index}]")
    else:
        assert made == committed and type(made) is type(committed), where
