"""The client's fixtures: a client of the scripted stub (certs and stub: tests/conftest.py), and one
real server with small limits."""

import pytest

from api.client import Client
from tests.e2e import running_server

TOKEN = "sa_client-test-token"
# The real server's limits here: small, so that a few dozen tweets take several requests.
MAX_ITEMS = 7
MAX_BODY_BYTES = 1024  # the least API_MAX_BODY_BYTES takes


@pytest.fixture
def stub_client(stub, certs):
    """A Client of ``stub`` whose waits are recorded in ``stub_client.sleeps``, not slept."""
    sleeps = []
    client = Client(stub.url, TOKEN, cafile=certs / "ca.crt", sleep=sleeps.append, environ={})
    client.sleeps = sleeps
    yield client
    client.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """A real server (Gunicorn, TLS, both models) with MAX_ITEMS keys and MAX_BODY_BYTES per request."""
    folder = tmp_path_factory.mktemp("client-server")
    env = {"API_MAX_ITEMS": str(MAX_ITEMS), "API_MAX_BODY_BYTES": str(MAX_BODY_BYTES)}
    with running_server(folder, env=env) as server:
        yield server


@pytest.fixture
def live_client(live):
    """A Client of the real server, verified against its CA, with its token."""
    with Client(live.url, live.token, cafile=live.certs / "ca.crt") as client:
        yield client
