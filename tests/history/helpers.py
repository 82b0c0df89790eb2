"""Shared fixtures and helpers of the prediction history tests (tests/test_history_*.py).

The db_url fixture gives each test an empty database of its own: SQLite, the machine's MariaDB and its
PostgreSQL.
"""

import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from api import constants as c
from api.history.schema import Prediction
from tests.conftest import DATABASES

TWEETS = {"t1": "I love this, what a great day :)", "t2": "worst service ever, so angry 😡"}


SERVER_URLS = {
    "mariadb": "mysql+pymysql://root@{host}:{port}/{db}?charset=utf8mb4",
    "postgres": "postgresql+psycopg://postgres@{host}:{port}/{db}",
}


ADMIN_DB = {"mariadb": "test", "postgres": "test"}


@contextmanager
def fresh_database(kind, address=None):
    """Create a database of our own on the ``kind`` server; yield its URL (via ``address``); drop it."""
    host, port = DATABASES[kind]
    name = f"hist_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        SERVER_URLS[kind].format(host=host, port=port, db=ADMIN_DB[kind]), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        via_host, via_port = address or (host, port)
        yield SERVER_URLS[kind].format(host=via_host, port=via_port, db=name)
    finally:
        with admin.connect() as conn:
            if kind == "postgres":
                conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE {name}"))
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request, tmp_path):
    """A URL of an empty history database: a SQLite file, or a fresh MariaDB or PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    with fresh_database(request.param) as url:
        yield url


@pytest.fixture
def history_app(make_app, db_url):
    """Return a factory of apps writing their history to ``db_url``; their writers are flushed on use."""
    apps = []

    def factory(**overrides):
        app = make_app(HISTORY_URL=db_url, **overrides)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions[c.EXT_HISTORY].store.dispose()


def post(client, header, query="", body=None):
    """POST a predict request; return the response."""
    return client.post(f"/api/v1/predict{query}", json=body or TWEETS, headers=header)


def stored(app):
    """Wait for the app's history writer, then return every row of the predictions table, oldest first."""
    history = app.extensions[c.EXT_HISTORY]
    history.flush()
    with history.store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(Prediction.__table__).order_by("id"))]
