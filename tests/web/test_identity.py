"""Which model answered: X-Model and X-Model-Version on every predict answer, the body unchanged, and
one set of models for the whole of a request even when a reload swaps another in meanwhile."""

import json

import pytest

from api.web import extensions as ext
from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR
from model.serving.registry import load_set
from tests.web.reload_helpers import copy_artifacts, publish, stage

PREDICT = "/api/v1/predict"
TWEETS = {"b": "what a lovely day :)", "a": "I hate mondays", "c": "meh"}


def manifest_versions():
    """Return ``{name: version}`` as the committed manifest states them (not as the app reports them)."""
    return {name: entry["version"] for name, entry in artifacts.read_manifest(DEFAULT_DIR)["models"].items()}


def labels_of(name):
    """Return ``{id: label}`` of TWEETS by the committed model ``name``, asked directly."""
    model, _ = artifacts.load(DEFAULT_DIR, name)
    return dict(zip(TWEETS, model.predict_labels(list(TWEETS.values())), strict=True))


def test_the_default_models_answer_names_it_and_its_version(client, auth_header):
    manifest = artifacts.read_manifest(DEFAULT_DIR)
    default = artifacts.default_name(manifest)
    response = client.post(PREDICT, json=TWEETS, headers=auth_header)
    assert response.status_code == 200
    assert response.headers["X-Model"] == default
    assert response.headers["X-Model-Version"] == manifest_versions()[default]


@pytest.mark.parametrize("name", sorted(manifest_versions()))
def test_a_named_model_is_named_with_its_version(client, auth_header, name):
    response = client.post(f"{PREDICT}?model={name}&detail=true", json=TWEETS, headers=auth_header)
    assert (response.headers["X-Model"], response.headers["X-Model-Version"]) == (
        name,
        manifest_versions()[name],
    )


def test_all_models_are_named_in_the_order_of_the_answers_keys(client, auth_header):
    response = client.post(f"{PREDICT}?model=all", json=TWEETS, headers=auth_header)
    order = list(response.get_json()["b"])
    assert len(order) == len(manifest_versions()) > 1
    assert response.headers["X-Model"] == ",".join(order)
    assert response.headers["X-Model-Version"] == ",".join(manifest_versions()[n] for n in order)


def test_the_body_is_byte_for_byte_the_plain_answer(client, auth_header):
    default = artifacts.default_name(artifacts.read_manifest(DEFAULT_DIR))
    response = client.post(PREDICT, json=TWEETS, headers=auth_header)
    # Flask's compact JSON, the client's key order, one newline: nothing about the model in the body.
    assert response.get_data() == (json.dumps(labels_of(default), separators=(",", ":")) + "\n").encode()


def test_an_answer_that_no_model_gave_names_none(client, auth_header):
    refused = client.post(f"{PREDICT}?model=nope", json=TWEETS, headers=auth_header)
    assert refused.status_code == 400
    assert "X-Model" not in refused.headers
    assert "X-Model-Version" not in refused.headers


class Recorder:
    """A history that keeps what predict hands it."""

    def __init__(self):
        self.versions = []

    def record(self, token, tweets, scores, versions, *args, **kwargs):
        """Keep the versions of one request."""
        self.versions.append(versions)

    def recent(self, limit, token=None):
        """No rows: predict never reads the history."""
        return []


def test_a_request_keeps_the_set_it_took_when_a_reload_swaps_another_in(make_app, auth_header, tmp_path):
    live = copy_artifacts(tmp_path / "artifacts")
    app = make_app(ARTIFACTS_DIR=live)
    history = ext.HISTORY.put(app, Recorder())
    old = manifest_versions()["freqlr"]
    new = stage(live, tmp_path / "staging", folds=3)
    publish(tmp_path / "staging", live)
    registry = ext.MODEL.of(app)
    score = registry.score

    def score_then_reload(*args, **kwargs):
        """Score, then let a reload swap the new set in before the view answers."""
        scores = score(*args, **kwargs)
        registry.swap(load_set(live))
        return scores

    registry.score = score_then_reload
    during = app.test_client().post(f"{PREDICT}?model=all", json=TWEETS, headers=auth_header)
    registry.score = score
    after = app.test_client().post(f"{PREDICT}?model=all", json=TWEETS, headers=auth_header)

    at = during.headers["X-Model"].split(",").index("freqlr")
    assert during.headers["X-Model-Version"].split(",")[at] == old
    assert after.headers["X-Model-Version"].split(",")[at] == new != old
    # The history keeps the version that answered, before the swap and after it.
    assert [v["freqlr"] for v in history.versions] == [old, new]


def test_the_openapi_document_declares_both_headers_on_predicts_answer(client, auth_header):
    document = client.get("/api/v1/openapi.json").get_json()
    declared = document["paths"]["/api/v1/predict"]["post"]["responses"]["200"]["headers"]
    answer = client.post(PREDICT, json=TWEETS, headers=auth_header)
    for name in ("X-Model", "X-Model-Version"):
        assert declared[name]["required"] is True
        assert "?model=all" in declared[name]["description"]
        assert answer.headers[name]
    assert "X-Model" not in document["paths"]["/api/v1/models"]["get"]["responses"]["200"].get("headers", {})
