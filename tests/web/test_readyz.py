"""/readyz: 503 until the model is loaded and verified, 200 after; /healthz answers throughout."""

from api.web import extensions as ext
from model.serving.artifacts import DEFAULT_DIR
from model.serving.registry import ModelRegistry


def test_readyz_answers_503_before_the_model_is_loaded_and_200_after(app):
    client = app.test_client()
    registry = ext.MODEL.put(app, ModelRegistry())  # as a worker holds it before ``load`` returns

    before = client.get("/readyz")
    assert before.status_code == 503
    assert before.json == {"error": {"status": 503, "code": "not_ready", "message": "model not loaded"}}
    assert client.get("/healthz").status_code == 200  # alive, only not ready

    registry.load(DEFAULT_DIR)
    after = client.get("/readyz")
    assert after.status_code == 200
    assert (after.json["status"], after.json["model"]) == ("ready", "freqlr")


def test_readyz_answers_503_while_the_app_has_no_model_at_all(app):
    client = app.test_client()
    del app.extensions[ext.MODEL.name]
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json["error"]["code"]) == (503, "not_ready")
