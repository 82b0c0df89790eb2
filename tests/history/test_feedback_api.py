"""POST and GET /api/v1/feedback through the app: joined to the caller's own stored answers, all or none."""

import pytest

from api import constants as c
from model.serving.labels import LABELS
from tests.history.feedback_helpers import mixed_tweets, more_tokens  # noqa: F401 - fixture
from tests.history.helpers import db_url, history_app  # noqa: F401 - the shared fixtures

FEEDBACK = "/api/v1/feedback"


def predict(app, header, tweets, query="?detail=true"):
    """Score ``tweets`` and wait until the history has them; return the answer."""
    response = app.test_client().post(f"/api/v1/predict{query}", json=tweets, headers=header)
    assert response.status_code == 200, response.get_json()
    app.extensions[c.EXT_HISTORY].flush()
    return response.get_json()


def test_feedback_is_recorded_and_the_live_accuracy_is_the_share_the_model_got_right(
    history_app,  # noqa: F811
    more_tokens,  # noqa: F811
):
    app = history_app()
    client, alice = app.test_client(), more_tokens["alice"]
    tweets = mixed_tweets(12)
    answers = predict(app, alice, tweets, "?model=all&detail=true")
    # The truth: the model's label for the first 8, the other label for the last 4.
    flip = {"Positive": "Negative", "Negative": "Positive"}
    truth = {
        key: answers[key]["freqlr"]["label"] if i < 8 else flip[answers[key]["freqlr"]["label"]]
        for i, key in enumerate(tweets)
    }
    response = client.post(FEEDBACK, json=truth, headers=alice)
    assert (response.status_code, response.get_json()) == (200, {"recorded": 12})

    live = client.get(FEEDBACK, headers=alice).get_json()
    by_model = {row["model"]: row for row in live["models"]}
    for model in ("freqlr", "nblr"):
        right = sum(answers[key][model]["label"] == truth[key] for key in tweets)
        assert by_model[model]["feedback"] == 12
        assert by_model[model]["accuracy"] == right / 12
    assert by_model["freqlr"]["accuracy"] == 8 / 12
    assert live["window"] == app.extensions[c.EXT_SETTINGS].FEEDBACK_WINDOW


def test_another_tokens_ids_are_refused_by_name_and_nothing_of_the_request_is_kept(
    history_app,  # noqa: F811
    more_tokens,  # noqa: F811
):
    app = history_app()
    client = app.test_client()
    predict(app, more_tokens["alice"], {"a1": "so good", "a2": "so bad"})
    predict(app, more_tokens["bob"], {"b1": "so good"})
    body = {"a1": "Positive", "b1": "Positive", "a2": "Negative"}
    response = client.post(FEEDBACK, json=body, headers=more_tokens["alice"])
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["key"]) == (404, "unknown_prediction", "b1")
    assert "asynchronously" in error["message"] and "retry" in error["message"]
    assert client.get(FEEDBACK, headers=more_tokens["alice"]).get_json()["models"] == []
    # Bob's own id is his to label.
    assert client.post(FEEDBACK, json={"b1": "Positive"}, headers=more_tokens["bob"]).status_code == 200


def test_an_id_asked_with_store_false_has_nothing_to_join(history_app, more_tokens):  # noqa: F811
    app = history_app()
    predict(app, more_tokens["alice"], {"kept": "so good"})
    predict(app, more_tokens["alice"], {"unkept": "so good"}, "?store=false")
    response = app.test_client().post(FEEDBACK, json={"unkept": "Positive"}, headers=more_tokens["alice"])
    assert (response.status_code, response.get_json()["error"]["key"]) == (404, "unkept")


@pytest.mark.parametrize(
    ("body", "status", "code", "key"),
    [
        ({}, 400, "invalid_body", None),
        ([], 400, "invalid_body", None),
        ({"a1": LABELS[0].lower()}, 400, "invalid_item", "a1"),
        ({"a1": 1}, 400, "invalid_item", "a1"),
        ({"a1": None}, 400, "invalid_item", "a1"),
        ({"": "Positive"}, 400, "invalid_item", ""),
        ({"k" * 5: "Positive"}, 400, "invalid_item", "k" * 5),
        ({"a\u0000": "Positive"}, 400, "invalid_item", "a?"),
        ({f"i{n}": "Positive" for n in range(4)}, 400, "too_many_items", None),
    ],
)
def test_a_body_that_is_not_ids_to_labels_within_the_limits_is_refused(
    make_app, auth_header, tmp_path, body, status, code, key
):
    app = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}", MAX_ITEMS=3, MAX_KEY_CHARS=4)
    response = app.test_client().post(FEEDBACK, json=body, headers=auth_header)
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error.get("key")) == (status, code, key)


def test_a_body_that_is_not_json_is_refused_as_predicts_are(make_app, auth_header, tmp_path):
    client = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}").test_client()
    plain = client.post(FEEDBACK, data="a1=Positive", headers=auth_header, content_type="text/plain")
    broken = client.post(FEEDBACK, data="{", headers=auth_header, content_type="application/json")
    assert [plain.status_code, plain.get_json()["error"]["code"]] == [415, "unsupported_media_type"]
    assert [broken.status_code, broken.get_json()["error"]["code"]] == [400, "invalid_json"]


def test_without_a_history_feedback_is_404_history_disabled(client, auth_header):
    for response in (
        client.post(FEEDBACK, json={"a1": "Positive"}, headers=auth_header),
        client.get(FEEDBACK, headers=auth_header),
    ):
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "history_disabled")


def test_feedback_needs_a_token(client):
    response = client.post(FEEDBACK, json={"a1": "Positive"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "unauthorized")


def test_a_database_that_does_not_answer_is_503_history_unavailable(make_app, auth_header):
    app = make_app(HISTORY_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    client = app.test_client()
    for response in (
        client.post(FEEDBACK, json={"a1": "Positive"}, headers=auth_header),
        client.get(FEEDBACK, headers=auth_header),
    ):
        assert (response.status_code, response.get_json()["error"]["code"]) == (503, "history_unavailable")


def test_feedback_and_the_live_accuracy_take_no_query_parameter(history_app, auth_header):  # noqa: F811
    client = history_app().test_client()
    for response in (
        client.get(f"{FEEDBACK}?window=5", headers=auth_header),
        client.post(f"{FEEDBACK}?window=5", json={"a1": "Positive"}, headers=auth_header),
    ):
        error = response.get_json()["error"]
        assert (response.status_code, error["code"], error["key"]) == (400, "invalid_parameter", "window")
