"""Files that hold tokens, keys or prediction history are 0600 in 0700 folders, whoever creates them first.

SQLite gives its -wal and -shm files the mode of the database file, so that file
must be created 0600 before SQLite creates it with the umask's 0644.
"""

import os
import stat
import time

import pytest

from api import constants as c
from api.history.store import upgrade
from api.ops.certs import generate
from api.ops.tokens import create_token
from tests.e2e import predict, request, running_server

SIDE_FILES = ("-wal", "-shm")


@pytest.fixture(autouse=True)
def usual_umask():
    """Run each test under the usual umask (022), which leaves new files readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path):
    """Return the permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def assert_private_database(path):
    """The database and its -wal and -shm (one at least, while it is open) are 0600, its folder 0700."""
    side = [path.with_name(path.name + suffix) for suffix in SIDE_FILES]
    assert any(file.exists() for file in side), f"no -wal or -shm beside {path}"
    modes = {file.name: mode(file) for file in [path, *side] if file.exists()}
    assert modes == dict.fromkeys(modes, 0o600)
    assert mode(path.parent) == 0o700


def test_the_history_database_and_its_wal_and_shm_are_private(make_app, auth_header, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    path = shared / "new" / "history.db"
    app = make_app(HISTORY_URL=f"sqlite:///{path}")
    assert app.test_client().post("/api/v1/predict", json={"a": "hi"}, headers=auth_header).status_code == 200
    app.extensions[c.EXT_HISTORY].flush()
    assert_private_database(path)
    assert mode(shared) == 0o755  # a folder that was there is left as it was


def test_a_database_sqlite_creates_later_is_private_too(make_app, auth_header, tmp_path):
    folder = tmp_path / "later"
    folder.write_text("a file where the database's folder should be: the first writes fail")
    app = make_app(HISTORY_URL=f"sqlite:///{folder / 'history.db'}")
    client = app.test_client()
    assert client.post("/api/v1/predict", json={"a": "hi"}, headers=auth_header).status_code == 200
    app.extensions[c.EXT_HISTORY].flush()
    folder.unlink()
    folder.mkdir(mode=0o700)
    assert client.post("/api/v1/predict", json={"b": "yo"}, headers=auth_header).status_code == 200
    app.extensions[c.EXT_HISTORY].flush()
    assert mode(folder / "history.db") == 0o600


def test_the_migration_creates_a_private_database(tmp_path):
    path = tmp_path / "migrated" / "deeper" / "history.db"
    upgrade(f"sqlite:///{path}")
    assert mode(path) == 0o600
    assert mode(path.parent) == mode(path.parent.parent) == 0o700


def test_the_tokens_file_its_lock_and_folders_are_private(tmp_path):
    path = tmp_path / "a" / "b" / "tokens.json"
    create_token(path, "alice")
    assert (mode(path), mode(path.with_name("tokens.json.lock"))) == (0o600, 0o600)
    assert mode(path.parent) == mode(path.parent.parent) == 0o700


def test_a_stale_temporary_tokens_file_does_not_lend_its_mode(tmp_path):
    path = tmp_path / "tokens.json"
    stale = path.with_name("tokens.json.tmp")
    stale.write_text("left by a crash")
    stale.chmod(0o644)
    create_token(path, "alice")
    assert mode(path) == 0o600


def test_the_certs_folder_is_private_and_keys_0600(tmp_path):
    paths = generate(tmp_path / "x" / "certs")
    assert mode(tmp_path / "x" / "certs") == 0o700
    assert {mode(paths[key]) for key in ("ca_key", "server_key")} == {0o600}
    assert {mode(paths[key]) for key in ("ca_cert", "server_cert")} == {0o644}


@pytest.mark.e2e
def test_a_live_servers_history_files_are_private(tmp_path):
    path = tmp_path / "history" / "history.db"
    with running_server(tmp_path, env={"API_HISTORY_URL": f"sqlite:///{path}"}) as server:
        assert predict(server)[0] == 200
        deadline = time.monotonic() + 30
        while not _stored(server) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling loop with a deadline: the writer process stores it a moment later
        assert _stored(server), "the prediction never reached the history"
        assert_private_database(path)


def _stored(server):
    """Return the server's stored predictions."""
    status, _, body = request(server.url + "/api/v1/predictions", server.context, token=server.token)
    assert status == 200, body
    return body["predictions"]
