"""Settings that cannot work stop the server at start-up, in one line naming the variable, before it
listens: a value of the wrong type or form, and a history URL whose driver is not installed
(`mysql://` alone asks for mysqlclient). `postgresql://` alone works: psycopg 3 is SQLAlchemy 2.1's
default."""

import os
import subprocess
import sys

import pytest

from api import constants as c
from api.settings import SettingsError, load_settings
from tests.e2e import ROOT, running_server
from tests.history.helpers import TWEETS, fresh_database, post, stored

# What the operator set, and the variable the refusal must name.
WRONG = [
    ("API_MAX_ITEMS", "abc"),
    ("API_RATE_LIMIT", "lots"),
    ("API_AUTH_FAILURE_LIMIT", "10 per fortnight"),
    ("WORKERS", "x"),
    ("API_HISTORY_TEXT", "maybe"),
    ("API_TOKEN_RELOAD_SECONDS", "-1"),
    ("API_HISTORY_MIGRATE_TIMEOUT", "soon"),
]
# mysql:// alone names mysqlclient (MySQLdb), which is not installed.
MYSQLDB_URL = "mysql://root@127.0.0.1:3306/test"


def _refusal(tmp_path, env):
    """Start the server as `make api-start` does with ``env``; return its log, which must end in a refusal.

    The server must exit before it listens: running_server fails when it does, quoting the log.
    """
    with (
        pytest.raises(AssertionError, match=r"^server exited with 1:") as refused,
        running_server(tmp_path, env=env),
    ):
        pass  # reached only if it started: pytest.raises then fails the test
    return str(refused.value)


@pytest.mark.e2e
@pytest.mark.parametrize(("variable", "value"), WRONG, ids=[name for name, _ in WRONG])
def test_a_setting_of_the_wrong_type_stops_the_server_naming_it(tmp_path, variable, value):
    log = _refusal(tmp_path, {variable: value})
    refusals = [line for line in log.splitlines() if line.startswith("refusing to start:")]
    assert len(refusals) == 1, log
    assert f"{variable}: " in refusals[0]
    assert "Traceback" not in log and "Listening at" not in log


@pytest.mark.parametrize(("variable", "value"), WRONG, ids=[name for name, _ in WRONG])
def test_the_settings_error_names_the_variable_not_the_field(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=rf"^{variable}: "):
        load_settings()


def test_a_password_in_a_setting_is_never_repeated_in_its_error(monkeypatch):
    monkeypatch.setenv("API_HISTORY_URL", "mysql+pymysql://u:hunter2secret@db/x")
    monkeypatch.setenv("API_MAX_ITEMS", "hunter2secret")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "hunter2secret" not in str(refused.value)
    assert str(refused.value).startswith("API_MAX_ITEMS: ")


def test_mysqlclient_is_not_installed_so_mysql_alone_cannot_work():
    """The premise of the README's sentence: only PyMySQL is installed for MariaDB."""
    with pytest.raises(ImportError):
        __import__("MySQLdb")


@pytest.mark.e2e
def test_mysql_alone_stops_the_server_naming_its_driver(tmp_path):
    log = _refusal(tmp_path, {"API_HISTORY_URL": MYSQLDB_URL})
    refusals = [line for line in log.splitlines() if "refusing to start:" in line]
    assert len(refusals) == 1, log
    assert "MySQLdb" in refusals[0] and "mysql+pymysql://" in refusals[0]
    assert "Listening at" not in log


def test_the_migrate_command_names_the_missing_driver_with_its_own_exit_status():
    env = {**os.environ, "API_HISTORY_URL": MYSQLDB_URL}
    result = subprocess.run(
        [sys.executable, "-m", "api", "history", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == c.MIGRATE_UNUSABLE_URL
    assert result.stderr.strip().splitlines() == [
        "error: API_HISTORY_URL needs the database driver MySQLdb, which is not installed;"
        " use postgresql+psycopg:// or mysql+pymysql:// (see README)"
    ]


def test_an_app_given_mysql_alone_fails_naming_its_driver(make_app):
    """A worker would fail the same way, had the master not refused first."""
    with pytest.raises(ModuleNotFoundError, match="MySQLdb"):
        make_app(HISTORY_URL=MYSQLDB_URL)


@pytest.mark.postgres
def test_postgresql_alone_is_served_by_psycopg_3(make_app, auth_header):
    """SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3, the one installed: no psycopg2 needed."""
    with fresh_database("postgres") as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        assert plain.startswith("postgresql://")
        app = make_app(HISTORY_URL=plain)
        history = app.extensions[c.EXT_HISTORY]
        try:
            assert history.store.engine.dialect.driver == "psycopg"
            assert post(app.test_client(), auth_header).status_code == 200
            assert len(stored(app)) == len(TWEETS)
        finally:
            history.store.dispose()
