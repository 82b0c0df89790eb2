"""Reading a body without Content-Length (chunked), as Gunicorn hands it over: unreadable framing is a 400
in our shape, a body past the cap a 413, and the connection is not kept for the rest of the body."""

import io
import logging
from types import SimpleNamespace

import pytest
from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    InvalidHeader,
    LimitRequestHeaders,
    NoMoreData,
)

from api.server.protocol import ClosingBody

URL = "/api/v1/predict"
CANARY = "canary-5e1d-do-not-log"
CAP = 2048


class Body(io.BytesIO):
    """A terminated wsgi.input like Gunicorn's: no Content-Length, and ``abandon`` counted."""

    abandoned = 0

    def abandon(self):
        self.abandoned += 1


class BrokenBody:
    """A wsgi.input whose first read raises what Gunicorn's chunked reader raises."""

    def __init__(self, exc):
        self.exc = exc

    def read(self, size=-1):
        raise self.exc


def post(client, auth_header, stream):
    """POST ``stream`` as the body, with no Content-Length, as a server that terminates input does."""
    overrides = {"wsgi.input": stream, "wsgi.input_terminated": True}
    headers = {**auth_header, "Content-Type": "application/json"}
    return client.post(URL, headers=headers, environ_overrides=overrides)


@pytest.fixture
def capped(make_app):
    """A test client whose app refuses bodies over CAP bytes."""
    return make_app(MAX_BODY_BYTES=CAP).test_client()


FRAMING = [
    InvalidChunkSize(f'{{"a": "{CANARY}"}}'.encode()),
    InvalidChunkSize(b"line over 8190 bytes with no terminator"),
    InvalidChunkExtension("invalid chunk extension"),
    ChunkMissingTerminator(CANARY[:2].encode()),
    LimitRequestHeaders("limit request trailer section size"),
    InvalidHeader(CANARY),
    NoMoreData(CANARY.encode()),
]


@pytest.mark.parametrize("exc", FRAMING, ids=lambda exc: type(exc).__name__)
def test_unreadable_framing_is_a_json_400_that_logs_nothing(capped, auth_header, caplog, exc):
    with caplog.at_level(logging.WARNING):
        response = post(capped, auth_header, BrokenBody(exc))
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["message"].split(":")[0]) == ("malformed_body", "malformed request body")
    assert CANARY not in response.get_data(as_text=True)
    assert caplog.records == []


def test_a_body_past_the_cap_is_a_413_and_abandoned(capped, auth_header):
    stream = Body(b'{"a": "' + b"x" * (2 * CAP) + b'"}')
    response = post(capped, auth_header, stream)
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert stream.abandoned == 1


def test_a_body_of_exactly_the_cap_is_served(capped, auth_header):
    valid = b'{"a": "what a lovely day"}'
    stream = Body(valid + b" " * (CAP - len(valid)))
    response = post(capped, auth_header, stream)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert list(response.get_json()) == ["a"]
    assert stream.abandoned == 0


def _request(body):
    """A stand-in for Gunicorn's request: its body and its must_close flag."""
    return SimpleNamespace(body=body, must_close=False)


def test_closing_body_reads_through_and_keeps_the_connection():
    req = _request(SimpleNamespace(read=lambda size: b"abc", failed=False))
    body = ClosingBody(req)
    assert body.read(3) == b"abc"
    assert (body.failed, req.must_close) == (False, False)


@pytest.mark.parametrize("exc", [InvalidChunkSize(b"zz"), NoMoreData(b"")], ids=["size", "cut short"])
def test_closing_body_closes_the_connection_when_a_read_fails(exc):
    req = _request(SimpleNamespace(read=BrokenBody(exc).read, failed=True))
    body = ClosingBody(req)
    with pytest.raises(type(exc)):
        body.read(10)
    assert (body.failed, req.must_close) == (True, True)


def test_closing_body_abandoned_closes_the_connection():
    req = _request(io.BytesIO(b"rest"))
    ClosingBody(req).abandon()
    assert req.must_close
