"""Creating a token under a name that exists is refused unless asked for: a typo must not silently swap
an admin token for a plain one (or lock its holder out)."""

import json
import os
import subprocess

import pytest

from api.__main__ import main as api_cli
from api.ops.tokens import TokenExists, TokenStore, create_token
from tests.e2e import ROOT


def _entry(path, name):
    """Return the tokens file's entry for ``name``."""
    return json.loads(path.read_text())["tokens"][name]


def test_create_refuses_an_existing_name_and_changes_nothing(tmp_path):
    path = tmp_path / "tokens.json"
    token = create_token(path, "ops", admin=True)
    before = path.read_bytes()
    with pytest.raises(TokenExists, match="'ops' already exists"):
        create_token(path, "ops")
    assert path.read_bytes() == before
    assert TokenStore(path, reload_seconds=0).lookup(token) == "ops"


def test_create_with_replace_swaps_the_token(tmp_path):
    path = tmp_path / "tokens.json"
    old = create_token(path, "ops", admin=True)
    new = create_token(path, "ops", replace=True)
    store = TokenStore(path, reload_seconds=0)
    assert (store.lookup(old), store.lookup(new)) == (None, "ops")
    assert _entry(path, "ops")["admin"] is False


def test_cli_refuses_an_existing_name_with_status_1_and_says_how(tmp_path, capsys):
    path = tmp_path / "tokens.json"
    create_token(path, "ops", admin=True)
    assert api_cli(["token", "--file", str(path), "create", "ops"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "'ops' already exists" in err and "--force" in err
    assert _entry(path, "ops")["admin"] is True


def test_cli_force_replaces_and_prints_the_new_token(tmp_path, capsys):
    path = tmp_path / "tokens.json"
    create_token(path, "ops")
    assert api_cli(["token", "--file", str(path), "create", "ops", "--force", "--admin"]) == 0
    token = capsys.readouterr().out.strip()
    assert TokenStore(path, reload_seconds=0).lookup(token) == "ops"
    assert _entry(path, "ops")["admin"] is True


def _make_token(path, *args):
    """Run `make token` with ``args`` on the tokens file ``path``; return the finished process."""
    env = {**os.environ, "API_TOKENS_FILE": str(path)}
    command = ["make", "--no-print-directory", "token", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_make_token_refuses_an_existing_name_unless_force(tmp_path):
    path = tmp_path / "tokens.json"
    first = _make_token(path, "NAME=ops", "ADMIN=1")
    assert first.returncode == 0, first.stderr
    refused = _make_token(path, "NAME=ops")
    assert refused.returncode != 0
    assert "'ops' already exists" in refused.stderr and "FORCE=1" in refused.stderr
    assert "sa_" not in refused.stdout
    assert _entry(path, "ops")["admin"] is True
    forced = _make_token(path, "NAME=ops", "FORCE=1")
    assert forced.returncode == 0, forced.stderr
    token = forced.stdout.strip().splitlines()[-1]
    assert TokenStore(path, reload_seconds=0).lookup(token) == "ops"
