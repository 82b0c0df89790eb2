"""A connection error is retried when the request surely did nothing: always before it is sent, and
after only for GET (api/client/retry.py reasons it out)."""

import pytest

from api.client import Client, ClientError
from api.client.retry import CONNECTION_RETRIES, connection_retry
from tests.client.stub import DROP, Stub, spec

MODELS = {"models": [{"name": "freqlr", "version": "v1", "default": True}]}


def test_a_get_cut_after_it_was_sent_is_sent_again(stub, stub_client):
    stub.answers = [DROP, (200, {}, MODELS)]
    assert [model.name for model in stub_client.models()] == ["freqlr"]
    assert [request[1] for request in stub.requests] == ["/api/v1/models"] * 2


def test_a_predict_cut_after_it_was_sent_is_not_sent_again(stub, stub_client):
    stub.answers = [(200, {}, spec(100)), DROP, (200, {}, {"a": "Positive"})]
    with pytest.raises(ClientError, match="not sent again, since the server may have processed it"):
        stub_client.predict({"a": "good"})
    assert [request[0] for request in stub.requests] == ["GET", "POST"]


def test_feedback_cut_after_it_was_sent_is_not_sent_again(stub, stub_client):
    stub.answers = [DROP, (200, {}, {"recorded": 1})]
    with pytest.raises(ClientError, match="not sent again"):
        stub_client.feedback({"a": "Positive"})
    assert len(stub.requests) == 1


def test_every_method_is_retried_before_it_is_sent_and_only_get_after():
    post, get = connection_retry("POST"), connection_retry("GET")
    assert post.connect == get.connect == CONNECTION_RETRIES
    assert (post.read, get.read) == (0, CONNECTION_RETRIES)
    assert not post.is_retry("POST", 503, has_retry_after=True)  # statuses are the client's own loop's


def test_a_server_that_is_not_there_is_a_clear_error(certs):
    with Stub() as closed:
        port = closed.server_address[1]  # bound, then closed on leaving: nothing listens there
    client = Client(f"https://localhost:{port}", "sa_t", cafile=certs / "ca.crt", connection_retries=1)
    # A POST refused before anything was sent: retried (nothing done), then said plainly.
    with pytest.raises(ClientError, match="cannot reach https://localhost"):
        client.feedback({"a": "Positive"})
