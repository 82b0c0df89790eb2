"""README "Operating it" claims about the server's start that no other test checked: it migrates the
history database before serving (`make migrate` is the same step by hand), and with `memory://` rate
limits and several workers it says at start-up that they count per worker; it refuses to start when
API_MAX_CONNECTIONS is not below WORKER_CONNECTIONS."""

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from api.history.store import alembic_config
from tests.e2e import ROOT, free_port, log_records, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A server just started (2 workers, memory:// limits) on a history database that did not exist;
    yields (server, database URL). No request is sent to it."""
    tmp = tmp_path_factory.mktemp("startup")
    url = f"sqlite:///{tmp / 'fresh' / 'history.db'}"
    env = {"API_HISTORY_URL": url, "API_RATE_LIMIT_STORAGE": "memory://"}
    with running_server(tmp, env=env, workers=2) as server:
        yield server, url


def test_the_history_database_is_migrated_before_the_server_serves(started):
    _, url = started
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).has_table("predictions")
        with engine.connect() as conn:
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_memory_limits_with_several_workers_are_announced_at_start_up(started):
    server, _ = started
    messages = [record["message"] for record in log_records(server.log())]
    assert any(
        message.startswith("API_RATE_LIMIT_STORAGE=memory:// counts per worker: with 2 workers")
        for message in messages
    ), messages


def test_a_connection_cap_not_below_the_pool_refuses_to_start():
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),  # never bound: the master refuses before it binds
        "WORKER_CONNECTIONS": "10",
        "API_MAX_CONNECTIONS": "10",
        "API_HISTORY_URL": "none",
    }
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to start: API_MAX_CONNECTIONS=10 must be below WORKER_CONNECTIONS=10" in result.stderr
    assert "Traceback" not in result.stderr
