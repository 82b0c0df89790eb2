"""Shared fixtures: an app factory with its own token file, and small data made here."""

import os
from pathlib import Path

import pytest

from api import constants as c
from api import create_app
from api.tokens import create_token
from model.artifacts import DEFAULT_DIR
from model.data import DEFAULT_DATA
from tests.e2e import running_server
from tests.samples import write_csv

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    """Skip tests that need the shared data set when absent, except under CI, where they run and fail."""
    if DEFAULT_DATA.is_file() or IN_CI:
        return
    skip = pytest.mark.skip(reason=f"shared data set not found at {DEFAULT_DATA}")
    for item in items:
        if "data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tokens(tmp_path):
    """A tokens file holding one token named alice; returns (path, token)."""
    path = tmp_path / "tokens.json"
    return path, create_token(path, "alice")


@pytest.fixture
def make_app(tokens):
    """Return a factory that builds an app from the committed artifacts and the test tokens file."""

    def factory(**overrides):
        config = {
            "TESTING": True,
            c.TOKENS_FILE: tokens[0],
            c.TOKEN_RELOAD_SECONDS: 0,
            c.ARTIFACTS_DIR: DEFAULT_DIR,
            c.RATE_LIMIT: "1000/minute",
            c.RATE_LIMIT_STORAGE: "memory://",
        }
        config.update(overrides)
        return create_app(config)

    return factory


@pytest.fixture
def app(make_app):
    """An app with default test settings."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def auth_header(tokens):
    """The Authorization header of alice's token."""
    return {"Authorization": f"Bearer {tokens[1]}"}


@pytest.fixture
def small_csv(tmp_path):
    """A small balanced data set made by the test (40 tweets per class)."""
    return write_csv(tmp_path / "small.csv")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """One real Gunicorn (2 gevent workers, TLS, high rate limit) shared by the tests that only read."""
    with running_server(tmp_path_factory.mktemp("live")) as server:
        yield server
