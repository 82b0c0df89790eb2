"""The model registry: choosing a model, every model's answer, scores, and every file's hash check."""

import gzip
import json
import math
import re
import shutil

import pytest

from api import constants as c
from model.errors import ArtifactError
from model.serving.artifacts import DEFAULT_DIR

URL = "/api/v1/predict"
BODY = {"b": "I love this, what a great day :)", "a": "worst service ever, so angry"}


def _post(client, headers, query=""):
    return client.post(URL + query, json=BODY, headers=headers)


def test_models_lists_every_model_with_heldout_metrics(client, auth_header):
    answer = client.get("/api/v1/models", headers=auth_header).get_json()
    names = [m["name"] for m in answer["models"]]
    assert names == ["freqlr", "nblr"]
    assert answer["default"] == "freqlr"
    assert [m["default"] for m in answer["models"]] == [True, False]
    for info in answer["models"]:
        assert {"accuracy", "roc_auc", "brier"} <= info["metrics"].keys()
        assert info["version"].startswith("v3-")


def test_models_needs_a_token(client):
    assert client.get("/api/v1/models").status_code == 401


def test_plain_request_is_unchanged(client, auth_header):
    response = _post(client, auth_header)
    assert response.get_json() == {"b": "Positive", "a": "Negative"}
    assert list(json.loads(response.get_data())) == ["b", "a"]


@pytest.mark.parametrize("name", ["freqlr", "nblr"])
def test_each_model_can_be_chosen(client, auth_header, name):
    assert _post(client, auth_header, f"?model={name}").get_json() == {"b": "Positive", "a": "Negative"}


def test_models_can_disagree_and_are_answered_separately(client, auth_header):
    body = {"x": "awful day"}
    answers = {
        name: client.post(f"{URL}?model={name}", json=body, headers=auth_header).get_json()["x"]
        for name in ("freqlr", "nblr")
    }
    everything = client.post(f"{URL}?model=all", json=body, headers=auth_header).get_json()
    assert everything == {"x": answers}


def test_all_models_in_key_order(client, auth_header):
    answer = json.loads(_post(client, auth_header, "?model=all").get_data())
    assert list(answer) == ["b", "a"]
    assert answer["b"] == {"freqlr": "Positive", "nblr": "Positive"}
    assert answer["a"] == {"freqlr": "Negative", "nblr": "Negative"}


def test_detail_gives_label_and_probability(client, auth_header):
    answer = _post(client, auth_header, "?detail=true").get_json()
    for key, expected in (("b", "Positive"), ("a", "Negative")):
        assert set(answer[key]) == {"label", "score"}
        assert answer[key]["label"] == expected
        assert 0 <= answer[key]["score"] <= 1
        assert (answer[key]["score"] > 0.5) == (expected == "Positive")


def test_detail_with_all_models(client, auth_header):
    answer = _post(client, auth_header, "?model=all&detail=true").get_json()
    assert set(answer["b"]) == {"freqlr", "nblr"}
    assert all(set(v) == {"label", "score"} for v in answer["b"].values())


def test_scores_are_the_models_probabilities(app, client, auth_header):
    answer = _post(client, auth_header, "?model=nblr&detail=true").get_json()
    expected = app.extensions[c.EXT_MODEL].models["nblr"].predict_proba(list(BODY.values()))
    assert [answer[k]["score"] for k in BODY] == pytest.approx(list(expected), abs=1e-12)


@pytest.mark.parametrize(
    ("query", "key", "fragment"),
    [
        ("?model=nope", "model", "valid: freqlr, nblr, all"),
        ("?model=", "model", "valid: freqlr, nblr, all"),
        ("?model=FREQLR", "model", "valid: freqlr, nblr, all"),
        ("?detail=yes", "detail", "true or false"),
        ("?detail=", "detail", "true or false"),
        ("?modle=nblr", "modle", "accepted: model, detail"),
    ],
)
def test_bad_parameters_are_400_naming_the_valid_values(client, auth_header, query, key, fragment):
    response = _post(client, auth_header, query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["key"]) == ("invalid_parameter", key)
    assert fragment in error["message"]


def test_default_model_is_configurable(make_app, auth_header):
    app = make_app(MODEL="nblr")
    client = app.test_client()
    assert client.get("/api/v1/model", headers=auth_header).get_json()["name"] == "nblr"
    assert client.get("/readyz").get_json()["model"] == "nblr"


def test_unknown_default_model_refuses_to_start(make_app):
    with pytest.raises(ArtifactError, match="'nope' is not in the manifest: freqlr, nblr"):
        make_app(MODEL="nope")


@pytest.mark.parametrize("filename", ["freqlr.json", "nblr.json.gz"])
def test_every_model_file_is_hash_checked(make_app, tmp_path, filename):
    artifacts = shutil.copytree(DEFAULT_DIR, tmp_path / "artifacts")
    payload = bytearray((artifacts / filename).read_bytes())
    payload[-20] ^= 0x01
    (artifacts / filename).write_bytes(bytes(payload))
    with pytest.raises(ArtifactError, match=re.escape(filename) + " fails its SHA-256 check"):
        make_app(ARTIFACTS_DIR=artifacts)


def test_a_valid_gzip_of_other_json_is_still_refused(make_app, tmp_path):
    artifacts = shutil.copytree(DEFAULT_DIR, tmp_path / "artifacts")
    (artifacts / "nblr.json.gz").write_bytes(gzip.compress(b'{"format": "nblr"}', mtime=0))
    with pytest.raises(ArtifactError, match=r"nblr\.json\.gz fails its SHA-256 check"):
        make_app(ARTIFACTS_DIR=artifacts)


def test_nblr_round_trips_through_its_saved_form(app):
    from model.serving.nblr import NBLogisticModel

    model = app.extensions[c.EXT_MODEL].models["nblr"]
    restored = NBLogisticModel.from_dict(json.loads(json.dumps(model.to_dict())))
    texts = ["love it", "hate it", "", "not bad at all :)", "🙂" * 50]
    assert restored.predict_proba(texts).tolist() == model.predict_proba(texts).tolist()
    assert all(math.isfinite(p) for p in restored.predict_proba(texts))
