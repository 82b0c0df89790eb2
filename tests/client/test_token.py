"""The bearer token: from the argument, else $API_TOKEN; never in a repr, a str or a log line."""

import logging

import pytest

from api.client import TOKEN_ENV, Client, ClientError
from tests.client.stub import labels, spec

SECRET = "sa_the-secret-token-value"


def test_the_token_comes_from_the_environment(stub, certs):
    stub.answers = [(200, {}, spec(100)), labels({"a": 1})]
    Client(stub.url, cafile=certs / "ca.crt", environ={TOKEN_ENV: SECRET}).predict({"a": "good"})
    (_, _, public, _), (_, _, predict, _) = stub.requests
    assert predict["Authorization"] == f"Bearer {SECRET}"
    assert "Authorization" not in public  # the OpenAPI document is public: no token sent for it


def test_an_argument_wins_over_the_environment(stub, certs):
    stub.answers = [(200, {}, {"models": []})]
    Client(stub.url, "sa_argument", cafile=certs / "ca.crt", environ={TOKEN_ENV: SECRET}).models()
    assert stub.requests[0][2]["Authorization"] == "Bearer sa_argument"


@pytest.mark.parametrize("environ", [{}, {TOKEN_ENV: "  "}])
def test_without_a_token_nothing_is_sent(stub, certs, environ):
    with pytest.raises(ClientError, match=TOKEN_ENV):
        Client(stub.url, cafile=certs / "ca.crt", environ=environ)
    assert stub.requests == []


def test_a_token_that_would_break_the_header_is_refused(certs):
    with pytest.raises(ClientError, match="character no token has"):
        Client("https://localhost:1", "sa_x\r\nX-Admin: 1", cafile=certs / "ca.crt")


def test_the_token_is_never_shown_or_logged(stub, certs, caplog):
    stub.answers = [(200, {}, spec(100)), (401, {}, {"error": {"code": "unauthorized", "message": "no"}})]
    client = Client(stub.url, SECRET, cafile=certs / "ca.crt")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ClientError) as refused:
        client.predict({"a": "good"})
    # vars(): what a debugger or a traceback's locals would show of the client's parts.
    shown = [repr(client), str(client), repr(vars(client._transport)), str(refused.value), caplog.text]
    assert caplog.records and not [text for text in shown if SECRET in text]
