"""Shared by the feedback and drift tests: more tokens, artifacts with a drift reference, tweets made here."""

import json
import shutil

import pytest

from api import constants as c
from api.ops.tokens import create_token
from model.serving import drift
from model.serving.artifacts import DEFAULT_DIR
from model.serving.labels import sigmoid
from model.serving.registry import ModelRegistry

# The drift window of the monitored app: more than drift.MIN_WINDOW.
WINDOW = 300


@pytest.fixture(scope="module")
def registry():
    """The shipped models, loaded once for the module's references."""
    return ModelRegistry().load(DEFAULT_DIR)


@pytest.fixture
def monitored(make_app, tmp_path, registry):
    """An app whose models' reference is mixed_tweets(WINDOW), with a fresh monitor read on every call."""
    folder = artifacts_with_reference(tmp_path / "artifacts", registry, mixed_tweets(WINDOW).values())
    app = make_app(ARTIFACTS_DIR=folder, HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}", DRIFT_WINDOW=WINDOW)
    app.extensions[c.EXT_HISTORY].monitor.ttl = 0
    return app


def send(app, header, tweets, per_request=10):
    """Predict ``tweets`` in requests of ``per_request`` (each samples a few); wait for the history."""
    keys = list(tweets)
    for start in range(0, len(keys), per_request):
        part = {key: tweets[key] for key in keys[start : start + per_request]}
        assert app.test_client().post("/api/v1/predict", json=part, headers=header).status_code == 200
    app.extensions[c.EXT_HISTORY].flush()


# Tweets no reasonable model gets wrong, made here: the known answers of the feedback tests.
CLEARLY_POSITIVE = [
    "I love this so much, what a wonderful day",
    "best day ever, so happy and thankful",
    "this is amazing, I love it, great job",
    "so happy with my new phone, it is great",
    "what a lovely surprise, thank you so much",
]
CLEARLY_NEGATIVE = [
    "worst service ever, I hate this so much",
    "so sad and angry today, terrible day",
    "this is awful, I hate it, never again",
    "my phone broke again, worst day ever",
    "feeling sick and miserable, everything sucks",
]


def positive_tweets(count, prefix="p"):
    """Return ``count`` clearly positive tweets by id, each a little different (a number in it)."""
    return {f"{prefix}{i}": f"{CLEARLY_POSITIVE[i % 5]} {i}" for i in range(count)}


def mixed_tweets(count, prefix="m"):
    """Return ``count`` tweets by id, alternately clearly positive and clearly negative."""
    pool = [text for pair in zip(CLEARLY_POSITIVE, CLEARLY_NEGATIVE, strict=True) for text in pair]
    return {f"{prefix}{i}": f"{pool[i % 10]} {i}" for i in range(count)}


@pytest.fixture
def more_tokens(tokens):
    """Tokens beside alice's in the same file: bob (another caller) and ops (admin); their headers by name."""
    path, alice = tokens
    return {
        name: {"Authorization": f"Bearer {token}"}
        for name, token in (
            ("alice", alice),
            ("bob", create_token(path, "bob")),
            ("ops", create_token(path, "ops", admin=True)),
        )
    }


def artifacts_with_reference(folder, registry, tweets):
    """Copy the shipped artifacts to ``folder``, every model's reference made from ``tweets``; return it.

    The reference is what training writes for the held-out split (drift.reference), here of tweets the
    test chooses: the same tweets sent again then make a window of the reference's very distribution.
    """
    shutil.copytree(DEFAULT_DIR, folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    texts = list(tweets)
    for name, entry in manifest["models"].items():
        model = registry.models[name]
        probabilities = [sigmoid(score) for score in model.log_odds(texts)]
        entry["reference"] = drift.reference(probabilities, model.unknown_shares(texts))
    manifest_path.write_text(json.dumps(manifest))
    return folder
