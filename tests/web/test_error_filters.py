"""Errors and log lines to the letter: every error's status and code, the one JSON shape, a bug's 500
that reveals nothing, the security headers a view cannot drop, the request id a line carries, and the
authentication answers. Each test kills mutants of api/errors.py, api/web/errors.py, api/security.py,
api/jsonlog.py and api/web/auth.py that the behaviour tests let live (`make mutate`)."""

import json
import logging
import re
import sys

import pytest
from flask import Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from api import errors
from api import jsonlog as logs
from api.ops.tokens import create_token
from api.security import HEADERS
from api.web import auth
from api.web import errors as web_errors

PREDICT = "/api/v1/predict"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.APIError, 400, "bad_request"),
        (errors.UnsupportedMediaType, 415, "unsupported_media_type"),
        (errors.InvalidJSON, 400, "invalid_json"),
        (errors.MalformedBody, 400, "malformed_body"),
        (errors.InvalidBody, 400, "invalid_body"),
        (errors.InvalidItem, 400, "invalid_item"),
        (errors.InvalidParameter, 400, "invalid_parameter"),
        (errors.TooManyItems, 400, "too_many_items"),
        (errors.HistoryDisabled, 404, "history_disabled"),
        (errors.HistoryUnavailable, 503, "history_unavailable"),
    ],
)
def test_each_error_has_its_status_and_code(error, status, code):
    exc = error("what went wrong", key="k", headers={"Retry-After": "1"})
    assert (exc.status, exc.code, exc.message, exc.key, exc.headers) == (
        status,
        code,
        "what went wrong",
        "k",
        {"Retry-After": "1"},
    )
    assert str(exc) == "what went wrong"
    assert (error("m").key, error("m").headers) == (None, None)


def test_a_new_error_is_a_400_unless_it_names_its_status():
    class Plain(errors.APIError, code="plain"):
        """An error that states no status."""

    class Gone(errors.APIError, code="gone", status=410):
        """One that does."""

    assert (Plain.status, Plain.code, Gone.status, Gone.code) == (400, "plain", 410, "gone")


def test_our_errors_answer_with_their_headers(app):
    with app.test_request_context():
        answer = web_errors.handle_api_error(errors.InvalidItem("m", key="k", headers={"Retry-After": "2"}))
    assert (answer.status_code, answer.headers["Retry-After"]) == (400, "2")
    assert answer.get_json() == {"error": {"status": 400, "code": "invalid_item", "message": "m", "key": "k"}}


def test_an_errors_own_retry_after_is_kept_for_the_limiter_to_leave_alone(app):
    with app.test_request_context():
        web_errors.handle_api_error(errors.InvalidItem("m", headers={"X-Other": "1"}))
        assert web_errors.own_retry_after() is None
        web_errors.handle_api_error(errors.InvalidItem("m", headers={"Retry-After": "7"}))
        assert web_errors.own_retry_after() == "7"


def test_the_error_body_has_a_key_only_when_one_is_at_fault():
    assert errors.error_body(404, "no") == {"error": {"status": 404, "code": "not_found", "message": "no"}}
    assert errors.error_body(400, "m", "mine", key="") == {
        "error": {"status": 400, "code": "mine", "message": "m", "key": ""}
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (413, "request_entity_too_large"),
        (418, "i_m_a_teapot"),
        (505, "http_version_not_supported"),
        (599, "error"),
    ],
)
def test_a_status_code_is_its_phrase_in_snake_case(status, code):
    assert errors.code_for(status) == code


def test_refusals_answer_in_the_shared_shape(app):
    assert web_errors.Refusal.of(errors.TooManyItems) == (400, "too_many_items")
    assert web_errors.Refusal.of_status(405) == (405, "method_not_allowed")
    with app.test_request_context():
        answer = web_errors.NOT_READY.answer("loading")
        assert answer.status_code == 503
        assert answer.get_json() == {"error": {"status": 503, "code": "not_ready", "message": "loading"}}
        with_headers = web_errors.error_response(429, "slow", headers={"Retry-After": "3"})
        assert with_headers.headers["Retry-After"] == "3"


def test_an_http_error_keeps_its_headers_but_not_its_content_type(app):
    with app.test_request_context():
        answer = web_errors.handle_http_exception(MethodNotAllowed(["POST"]))
        assert answer.headers["Allow"] == "POST" and answer.headers.getlist("Content-Type") == [
            "application/json"
        ]
        assert answer.get_json()["error"]["message"] == MethodNotAllowed.description
        nameless = web_errors.handle_http_exception(HTTPException())
        assert (nameless.status_code, nameless.get_json()["error"]["message"]) == (500, "Unknown Error")
        bare = HTTPException(description="")
        bare.code = 418
        assert web_errors.handle_http_exception(bare).get_json()["error"]["message"] == "I'm a teapot"


def test_a_bug_is_logged_with_its_traceback_and_answered_with_nothing(app, caplog):
    with app.test_request_context(), caplog.at_level(logging.ERROR, logger=web_errors.log.name):
        try:
            raise KeyError("secret detail")
        except KeyError as exc:
            answer = web_errors.handle_unexpected(exc)
    assert answer.status_code == 500
    assert answer.get_json()["error"] == {
        "status": 500,
        "code": "internal_server_error",
        "message": "internal error; the server log has the details",
    }
    (record,) = caplog.records
    assert (record.levelname, record.getMessage()) == ("ERROR", "unhandled KeyError on request")
    assert record.exc_info[1].args == ("secret detail",)


def test_a_hit_rate_limit_is_our_429_not_werkzeugs(make_app, auth_header):
    client = make_app(RATE_LIMIT="1/minute").test_client()
    assert client.post(PREDICT, json={"a": "x"}, headers=auth_header).status_code == 200
    error = client.post(PREDICT, json={"a": "x"}, headers=auth_header).get_json()["error"]
    assert (error["status"], error["code"], error["message"]) == (
        429,
        "rate_limited",
        "rate limit exceeded: 1 per 1 minute",
    )


def test_the_rate_limit_answer_says_which_limit(app):
    class Hit:
        description = "2 per 1 minute"

    with app.test_request_context():
        answer = web_errors.handle_rate_limited(Hit())
    assert (answer.status_code, answer.get_json()["error"]["message"]) == (
        429,
        "rate limit exceeded: 2 per 1 minute",
    )


@pytest.mark.parametrize("path", ["/healthz", PREDICT, "/nothing"])
def test_every_answer_carries_every_security_header(client, path):
    response = client.get(path)
    assert {name: response.headers.get(name) for name in HEADERS} == HEADERS


def test_a_header_a_view_sets_itself_is_kept(app, client):
    @app.get("/own-cache")
    def own() -> Response:
        return Response("x", headers={"Cache-Control": "private, max-age=5"})

    response = client.get("/own-cache")
    assert response.headers["Cache-Control"] == "private, max-age=5"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_block_of_its_own_runs_under_a_new_id_then_the_old_one_is_back():
    token = logs.request_id.set("outer")
    try:
        with logs.new_request():
            inner = logs.request_id.get()
        assert re.fullmatch(r"[0-9a-f]{32}", inner)
        assert logs.request_id.get() == "outer"
    finally:
        logs.request_id.reset(token)


def test_a_line_carries_the_current_request_id_and_a_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("api.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    token = logs.request_id.set("rid-7")
    try:
        line = json.loads(logs.JSONFormatter().format(record))
    finally:
        logs.request_id.reset(token)
    assert line["request_id"] == "rid-7"
    assert list(line) == [*logs.FIELDS, "exc_info"] and "ValueError: boom" in line["exc_info"]


def test_a_safe_id_is_kept_to_its_128th_character():
    assert logs.safe_request_id("a" * 128) == "a" * 128
    assert logs.safe_request_id("a" * 129) != "a" * 129
    assert re.fullmatch(r"[0-9a-f]{32}", logs.safe_request_id(""))


def test_the_two_401s_say_whether_a_token_was_sent(client):
    missing = client.post(PREDICT, json={"a": "x"}).get_json()["error"]["message"]
    wrong = client.post(PREDICT, json={"a": "x"}, headers={"Authorization": "Bearer sa_x"}).get_json()
    assert missing == "missing bearer token"
    assert wrong["error"]["message"] == "invalid, malformed or revoked bearer token"


def test_a_refusal_other_than_401_is_a_json_forbidden(app):
    with app.test_request_context():
        answer = auth.auth_error(403)
    assert answer.get_json() == {"error": {"status": 403, "code": "forbidden", "message": "forbidden"}}


def test_the_caller_and_the_admin_flag_come_from_the_token_store(app, tokens):
    admin = create_token(tokens[0], "root", admin=True)
    with app.test_request_context(headers={"Authorization": f"Bearer {admin}"}):
        assert auth.token_name_or_none() == "root" and auth.is_admin("root") and not auth.is_admin("alice")
    with app.test_request_context(headers={"Authorization": "Basic eDp5"}):
        assert auth.token_name_or_none() is None
    with app.test_request_context(headers={"Authorization": f"Bearer {tokens[1]}"}):
        assert auth.verify_token(tokens[1]) == "alice" and auth.verify_token("sa_x") is None
        assert auth.verify_token(tokens[1]) == "alice"
