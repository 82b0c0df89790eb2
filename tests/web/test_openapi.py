"""The OpenAPI document and the app agree: the limits, labels, codes and shapes it states are the app's."""

import pytest

from api import constants as c
from api.errors import APIError
from api.settings import settings_of
from api.web import extensions as ext
from api.web.errors import NOT_READY, RATE_LIMITED, UNAUTHORIZED
from api.web.jsonschema import OpenAPISchema
from api.web.predict import PREDICT_PARAMETERS
from api.web.shapes import Error, TweetLimits, declare
from model.serving.labels import LABELS
from tests.web.hostile_helpers import CONF

BODY = {"t1": "what a lovely day :)", "t2": "I hate mondays"}


def _spec(client):
    """Return the app's document."""
    return client.get("/api/v1/openapi.json").get_json()


def _documented_codes(spec):
    """Return {code: status} over every error response of the document."""
    codes = {}
    for response in spec["components"]["responses"].values():
        error = response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
        for code in error["properties"]["code"]["enum"]:
            codes[code] = error["properties"]["status"]["const"]
    return codes


def _subclasses(cls):
    """Return every subclass of ``cls``, at any depth."""
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_subclasses(direct)}}


def _post(client, headers, body, query=""):
    """POST ``body`` to predict; return the response."""
    return client.post(f"/api/v1/predict{query}", json=body, headers=headers)


def test_the_checks_refuse_exactly_past_the_limits_the_document_states(make_app, auth_header):
    client = make_app(MAX_ITEMS=3, MAX_TWEET_CHARS=5, MAX_KEY_CHARS=4).test_client()
    tweets = _spec(client)["components"]["schemas"]["Tweets"]
    items, chars = tweets["maxProperties"], tweets["additionalProperties"]["maxLength"]
    key = "k" * tweets["propertyNames"]["maxLength"]
    assert (items, chars, len(key)) == (3, 5, 4)
    assert _post(client, auth_header, {f"{i}": "x" * chars for i in range(items)}).status_code == 200
    assert _post(client, auth_header, {key: "x"}).status_code == 200
    past = [
        {f"{i}": "x" for i in range(items + 1)},
        {"a": "x" * (chars + 1)},
        {key + "k": "x"},
    ]
    codes = [_post(client, auth_header, body).get_json()["error"]["code"] for body in past]
    assert codes == ["too_many_items", "invalid_item", "invalid_item"]


def test_every_json_body_declares_the_body_limit_the_server_refuses_past(make_app, auth_header):
    client = make_app(MAX_BODY_BYTES=2048).test_client()
    paths = _spec(client)["paths"]
    declared = {
        (path, method): operation["requestBody"].get("x-max-body-bytes")
        for path, item in paths.items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert declared and set(declared.values()) == {2048}
    limit = declared[("/api/v1/predict", "post")]
    # JSON allows whitespace: a valid body padded to exactly the limit passes, one byte more is refused.
    body = b'{"a": "fine"}'
    answers = [
        client.post(
            "/api/v1/predict",
            data=body + b" " * (size - len(body)),
            headers=auth_header,
            content_type="application/json",
        ).status_code
        for size in (limit, limit + 1)
    ]
    assert answers == [200, 413]


def test_the_limits_are_one_object_for_the_checks_and_the_shapes(app):
    limits = TweetLimits.of(settings_of(app))
    schema = declare(limits, ["m"]).tweets.model_json_schema(schema_generator=OpenAPISchema)
    assert schema["maxProperties"] == limits.max_items
    assert schema["additionalProperties"]["maxLength"] == limits.max_tweet_chars
    assert schema["propertyNames"]["maxLength"] == limits.max_key_chars


def test_labels_are_the_models_labels(client):
    schemas = _spec(client)["components"]["schemas"]
    assert schemas["Labels"]["additionalProperties"]["enum"] == list(LABELS)
    assert schemas["Scored"]["properties"]["label"]["enum"] == list(LABELS)


def test_every_error_the_app_answers_is_documented_with_its_status(client):
    documented = _documented_codes(_spec(client))
    raised = {error.code: error.status for error in _subclasses(APIError)}
    raised.update((refusal.code, refusal.status) for refusal in (UNAUTHORIZED, RATE_LIMITED, NOT_READY))
    assert {code: documented.get(code) for code in raised} == raised
    # werkzeug's and Gunicorn's own refusals, named after their status.
    assert (documented["request_entity_too_large"], documented["request_uri_too_long"]) == (413, 414)


def test_the_request_line_limit_is_gunicorns(client):
    assert CONF["limit_request_line"] == c.REQUEST_LINE_LIMIT
    description = _spec(client)["components"]["responses"]["UriTooLong"]["description"]
    assert f"over {c.REQUEST_LINE_LIMIT} bytes" in description


def test_the_documented_query_is_the_one_predict_reads(client):
    parameters = _spec(client)["paths"]["/api/v1/predict"]["post"]["parameters"]
    assert tuple(parameter["name"] for parameter in parameters) == PREDICT_PARAMETERS


@pytest.mark.parametrize("query", ["", "?detail=true", "?model=all", "?model=all&detail=true"])
def test_every_predict_answer_is_of_its_declared_shape(app, auth_header, query):
    shapes = declare(TweetLimits.of(settings_of(app)), list(ext.MODEL.of(app).models))
    answer = _post(app.test_client(), auth_header, BODY, query).get_json()
    assert shapes.answers.model_validate(answer).model_dump() == answer


def test_the_other_answers_are_of_their_declared_shapes(app, auth_header):
    client = app.test_client()
    shapes = declare(TweetLimits.of(settings_of(app)), list(ext.MODEL.of(app).models))
    shapes.model_info.model_validate(client.get("/api/v1/model", headers=auth_header).get_json())
    shapes.models.model_validate(client.get("/api/v1/models", headers=auth_header).get_json())
    shapes.ready.model_validate(client.get("/readyz").get_json())
    refused = [client.get("/api/v1/model"), _post(client, auth_header, {"a": 1}), client.get("/nowhere")]
    for response in refused:
        Error.model_validate(response.get_json())
