"""JSON log lines and request ids: safe ids echoed, unsafe ones replaced, every answer and every log line
about a request carrying its id, only known fields written, LOG_LEVEL followed; and a live run whose
whole log is JSON with no token, tweet text or query string in it."""

import http.client
import io
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys

import pytest
import time_machine
from pydantic import ValidationError

from api import constants as c
from api import jsonlog as logs
from api.ops.tokens import create_token
from api.settings import Settings
from tests.e2e import ROOT, access_records, log_records, running_server

HEX_ID = re.compile(r"[0-9a-f]{32}")
PREDICT = "/api/v1/predict"


@pytest.mark.parametrize(
    "given", ["a", "client-1.A_b", "7" * 128, "...", "f47ac10b-58cc-4372-a567-0e02b2c3d479"]
)
def test_a_safe_client_request_id_is_echoed(client, given):
    assert client.get("/healthz", headers={logs.HEADER: given}).headers[logs.HEADER] == given


@pytest.mark.parametrize(
    "given",
    ["", "two words", "7" * 129, "caf\u00e9", "a/b", "id;drop", '{"json": 1}', "tab\there", "sa_x%0d%0a"],
)
def test_an_unsafe_request_id_is_replaced_by_a_new_one(client, given):
    echoed = client.get("/healthz", headers={logs.HEADER: given}).headers[logs.HEADER]
    assert HEX_ID.fullmatch(echoed)
    assert echoed != given


def test_requests_without_an_id_get_a_new_one_each(client):
    ids = {client.get("/healthz").headers[logs.HEADER] for _ in range(20)}
    assert len(ids) == 20 and all(HEX_ID.fullmatch(i) for i in ids)


@pytest.fixture
def noisy_app(make_app):
    """An app with two extra routes: one that logs a line, one that fails."""
    app = make_app(RATE_LIMIT="3/minute")

    def talk():
        logging.getLogger("api.test").warning("inside the request")
        return {"ok": True}

    def fail():
        raise RuntimeError("a bug")

    app.add_url_rule("/talk", view_func=talk)
    app.add_url_rule("/fail", view_func=fail)
    return app


def test_every_kind_of_answer_carries_a_request_id(noisy_app, auth_header):
    client = noisy_app.test_client()
    with time_machine.travel(1_800_000_000, tick=False):
        answers = {
            200: client.get("/talk"),
            400: client.post(PREDICT, data="{", content_type="application/json", headers=auth_header),
            401: client.post(PREDICT, json={"a": "x"}),
            403: client.get("/metrics", headers=auth_header),
            404: client.get("/nope"),
            405: client.get(PREDICT),
            415: client.post(PREDICT, data="x", content_type="text/plain", headers=auth_header),
            # The fourth of a 3/minute limit, from an address of its own: one budget per address.
            429: [client.get("/talk", environ_base={"REMOTE_ADDR": "192.0.2.1"}) for _ in range(4)][-1],
            500: client.get("/fail"),
        }
    assert {status: answer.status_code for status, answer in answers.items()} == {s: s for s in answers}
    for answer in answers.values():
        assert HEX_ID.fullmatch(answer.headers[logs.HEADER])


@pytest.fixture
def json_lines():
    """Capture every log record as a JSON line, formatted as it is emitted (as Gunicorn's handlers do)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JSONFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_log_lines_written_while_serving_carry_the_request_id(noisy_app, json_lines):
    client = noisy_app.test_client()
    talked = client.get("/talk", headers={logs.HEADER: "req-42"})
    failed = client.get("/fail")
    logging.getLogger("api.test").warning("between requests")
    lines = {line["message"]: line for line in json_lines()}
    assert talked.headers[logs.HEADER] == "req-42"
    assert lines["inside the request"]["request_id"] == "req-42"
    # The bug's line and traceback, under the id the client was given.
    assert lines["unhandled RuntimeError on request"]["request_id"] == failed.headers[logs.HEADER]
    assert "RuntimeError: a bug" in lines["unhandled RuntimeError on request"]["exc_info"]
    assert lines["between requests"]["request_id"] is None


def test_the_app_leaves_the_url_rule_for_the_access_log(app, auth_header):
    environs = []
    wsgi_app = app.wsgi_app

    def keep_environ(environ, start_response):
        environs.append(environ)  # the dict Gunicorn's access log reads after the answer
        return wsgi_app(environ, start_response)

    app.wsgi_app = keep_environ
    client = app.test_client()
    assert client.post(PREDICT, json={"a": "x"}, headers=auth_header).status_code == 200
    assert client.get("/nope/secret").status_code == 404
    assert [environ[c.ENVIRON_ROUTE] for environ in environs] == [PREDICT, None]


def test_the_formatter_writes_only_known_fields_in_utc():
    record = logging.LogRecord("api.x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    # What a library might attach: none of it may reach the log.
    record.authorization = "Bearer sa_secret"
    record.text = "a tweet"
    line = json.loads(logs.JSONFormatter().format(record))
    assert list(line) == list(logs.FIELDS)
    assert (line["level"], line["logger"], line["message"], line["pid"]) == (
        "WARNING",
        "api.x",
        "hello world",
        os.getpid(),
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])

    access = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "GET / 200", (), None)
    for name in logs.ACCESS_FIELDS:
        setattr(access, name, f"value of {name}")
    access.request_id = "abc"
    line = json.loads(logs.JSONFormatter().format(access))
    assert list(line) == [*logs.FIELDS, *logs.ACCESS_FIELDS]
    assert line["request_id"] == "abc"


def test_log_level_is_checked_and_case_insensitive(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert Settings().LOG_LEVEL == "debug"
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError, match="LOG_LEVEL"):
        Settings()


def test_gunicorns_logger_sends_the_apps_records_as_json_at_log_level():
    # In a process of its own: the logger sets up the root logger, as it does in Gunicorn's master.
    script = """
import logging, warnings
from gunicorn.config import Config
from api.server.logger import HardenedLogger
cfg = Config()
cfg.set("loglevel", "warning")
cfg.set("errorlog", "-")
HardenedLogger(cfg)
logging.getLogger("api").info("below the level")
logging.getLogger("api").warning("at the level")
warnings.warn("a warning from a library")
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("api", "WARNING"),
        ("py.warnings", "WARNING"),
    ]
    assert lines[0]["message"] == "at the level"
    assert "a warning from a library" in lines[1]["message"]


def _secret_text(word):
    """A distinctive tweet: nothing in a log can contain it by chance."""
    return f"{word} marmoset{secrets.token_hex(6)} glitter"


def _send(conn, method, path, body=None, headers=None):
    """Send one request on ``conn``; return (status, headers)."""
    conn.request(method, path, json.dumps(body) if body is not None else None, headers or {})
    response = conn.getresponse()
    response.read()
    return response.status, response.headers


@pytest.mark.e2e
def test_live_log_is_json_with_request_ids_and_no_token_text_or_query(tmp_path):
    admin = create_token(tmp_path / "tokens.json", "root", admin=True)
    wrong = "sa_" + secrets.token_urlsafe(32)
    texts = [_secret_text(word) for word in ("happy", "sad", "query", "wrong", "unsafe")]
    unsafe_ids = ["evil id", "x" * 129, f"id-with-token:{wrong}"]
    # The most verbose level: a tweet or token logged at any level, debug included, is caught.
    env = {"API_AUTH_FAILURE_LIMIT": "2/minute", "LOG_LEVEL": "debug"}
    answers = []  # (what was sent, status, path, X-Request-ID answered)
    with running_server(tmp_path, env=env) as server:

        def connect():
            return http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)

        valid = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
        conn = connect()
        for name, headers, body in [
            ("client id", {**valid, logs.HEADER: "client-1.A_b"}, {"a": texts[0]}),
            ("no id", valid, {"a": texts[1], "b": texts[0]}),
            *[
                (f"unsafe id {n}", {**valid, logs.HEADER: i}, {"a": texts[4]})
                for n, i in enumerate(unsafe_ids)
            ],
        ]:
            status, headers_back = _send(conn, "POST", PREDICT, body, headers)
            answers.append((name, headers.get(logs.HEADER), status, PREDICT, headers_back[logs.HEADER]))
        status, headers_back = _send(
            conn, "POST", f"{PREDICT}?access_token={server.token}", {"a": texts[2]}, valid
        )
        answers.append(("token in query", None, status, PREDICT, headers_back[logs.HEADER]))
        status, headers_back = _send(conn, "GET", f"/api/v1/nope?q={texts[2].replace(' ', '+')}")
        answers.append(("not found", None, status, "/api/v1/nope", headers_back[logs.HEADER]))
        status, headers_back = _send(conn, "GET", "/metrics", headers={"Authorization": f"Bearer {admin}"})
        answers.append(("metrics", None, status, "/metrics", headers_back[logs.HEADER]))
        conn.close()
        # One connection, so one worker (the failed-auth limit counts per worker here): 401, 401, 429.
        conn = connect()
        bad = {"Authorization": f"Bearer {wrong}", "Content-Type": "application/json"}
        for n in range(3):
            status, headers_back = _send(conn, "POST", PREDICT, {"a": texts[3]}, bad)
            answers.append((f"wrong token {n}", None, status, PREDICT, headers_back[logs.HEADER]))
        conn.close()
        # Refused by Gunicorn itself, before the app: the request line is over 4094 bytes.
        conn = connect()
        status, gunicorn_headers = _send(conn, "GET", f"/healthz?t={server.token}&pad=" + "x" * 5000)
        conn.close()
        # A malformed request line: Gunicorn's own message would quote it, token and all.
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            server.context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(f"GET /a b?t={server.token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            malformed = http.client.HTTPResponse(tls)
            malformed.begin()
        tokens = [server.token, wrong, admin]
    log = server.log()

    statuses = {name: status for name, _, status, _, _ in answers}
    assert statuses == {
        "client id": 200,
        "no id": 200,
        **{f"unsafe id {n}": 200 for n in range(len(unsafe_ids))},
        "token in query": 400,
        "not found": 404,
        "metrics": 200,
        "wrong token 0": 401,
        "wrong token 1": 401,
        "wrong token 2": 429,
    }
    assert (status, malformed.status) == (414, 400)

    lines = log_records(log)
    assert len(lines) == len(log.splitlines())  # every line is one JSON object
    assert all(set(logs.FIELDS) <= set(line) for line in lines)
    access = access_records(log)
    assert all(set(logs.ACCESS_FIELDS) <= set(line) for line in access)
    for name, sent_id, answered_status, path, request_id in answers:
        if sent_id is not None and logs.SAFE_ID.fullmatch(sent_id):
            assert request_id == sent_id, name
        else:
            assert HEX_ID.fullmatch(request_id), name
        # Exactly one access line names the request, with its status and path (no query string).
        about = [line for line in access if line["request_id"] == request_id]
        assert [(line["status"], line["path"]) for line in about] == [(answered_status, path)], name
    assert len({request_id for *_, request_id in answers}) == len(answers)
    # Gunicorn's own answer has an id, and Gunicorn's line about it names that id.
    for refused in (gunicorn_headers[logs.HEADER], malformed.headers[logs.HEADER]):
        assert HEX_ID.fullmatch(refused)
        assert any(line["request_id"] == refused and line["level"] == "WARNING" for line in lines), log
    # The app's own lines are there, as JSON at LOG_LEVEL, and the debug ones with them.
    assert any(line["logger"] == "api.web" and line["message"].startswith("model freqlr") for line in lines)
    assert any(line["level"] == "DEBUG" for line in lines)

    leaks = [secret for secret in tokens + texts + unsafe_ids if secret in log]
    assert leaks == []
    assert "access_token" not in log and "?q=" not in log
