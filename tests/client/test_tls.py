"""The server is verified against the CA given (else the system's), hostname included: a server another
CA signed is refused with a clear error before any request is sent."""

import ssl

import pytest

from api.client import Client, ClientError
from api.client.tls import tls_context
from api.ops.certs import generate
from tests.e2e import access_records, wait_until

WRONG_CA = "is not the server the CA vouches for, nothing was sent"


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """The CA file of another set of certificates: it signed no server of these tests."""
    folder = tmp_path_factory.mktemp("other")
    generate(folder)
    return folder / "ca.crt"


def test_a_server_another_ca_signed_gets_no_request(stub, other_ca):
    stub.answers = [(200, {}, {"models": []})]
    client = Client(stub.url, "sa_t", cafile=other_ca)
    with pytest.raises(ClientError, match=WRONG_CA) as refused:
        client.models()
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value) and refused.value.status is None
    assert stub.requests == []


def test_without_a_ca_file_the_systems_cas_are_trusted_and_ours_is_not_one(stub):
    stub.answers = [(200, {}, {"models": []})]
    with pytest.raises(ClientError, match=WRONG_CA):
        Client(stub.url, "sa_t").models()
    assert stub.requests == []


def test_the_context_verifies_and_checks_the_hostname(certs):
    for context in (tls_context(), tls_context(certs / "ca.crt")):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_missing_ca_file_is_a_clear_error(tmp_path):
    with pytest.raises(ClientError, match="cannot load the TLS files"):
        Client("https://localhost:1", "sa_t", cafile=tmp_path / "absent.crt")


def test_only_https_urls_are_taken():
    with pytest.raises(ClientError, match="https://"):
        Client("http://localhost:5000", "sa_t")


@pytest.mark.e2e
def test_a_real_server_with_the_wrong_ca_sees_no_request(live, other_ca):
    mark = len(live.log())
    with pytest.raises(ClientError, match=WRONG_CA):
        Client(live.url, live.token, cafile=other_ca).predict({"a": "good"})
    with Client(live.url, live.token, cafile=live.certs / "ca.crt") as right:
        right.models()  # a request that does arrive, and is logged, after the refused one
    paths = wait_until(
        lambda: [record["path"] for record in access_records(live.log()[mark:])], "the models request logged"
    )
    assert paths == ["/api/v1/models"]
