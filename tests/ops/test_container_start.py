"""The image's start (api/ops/container.py): what it makes, where, and when it makes nothing.

The container tests (tests/container/) run it in the image; these run its decisions in-process, with
the image's folders replaced by temporary ones.
"""

import stat

import pytest

from api.ops import container
from api.ops.certs import generate
from api.ops.firsttoken import BEGIN, END
from api.ops.tokens import create_token, list_tokens


@pytest.fixture
def image_dirs(tmp_path, monkeypatch):
    """The image's instance and certificate folders and /tmp's fallback, as empty temporary folders."""
    instance, certs, fallback = tmp_path / "instance", tmp_path / "certs", tmp_path / "tmp" / "sentiment-api"
    instance.mkdir()
    fallback.parent.mkdir()
    defaults = {
        "TLS_CERT": certs / "server.crt",
        "TLS_KEY": certs / "server.key",
        "TOKENS_FILE": instance / "tokens.json",
    }
    monkeypatch.setattr(container, "INSTANCE_DIR", instance)
    monkeypatch.setattr(container, "FALLBACK_DIR", fallback)
    monkeypatch.setattr(container, "default", defaults.__getitem__)
    return instance, certs, fallback


def read_only(monkeypatch, folder):
    """Make ``folder`` look unwritable to the start, as on a read-only root (root ignores modes)."""
    real = container.os.access
    monkeypatch.setattr(
        container.os, "access", lambda path, mode: False if path == folder else real(path, mode)
    )


def mode(path):
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def test_with_nothing_mounted_on_a_read_only_root_everything_is_made_under_tmp(
    image_dirs, monkeypatch, capsys
):
    instance, _, fallback = image_dirs
    read_only(monkeypatch, instance)
    env = {}
    assert container.prepare(env) == 0
    assert env["API_TLS_CERT"] == str(fallback / "certs" / "server.crt")
    assert env["API_TLS_KEY"] == str(fallback / "certs" / "server.key")
    assert env["API_TOKENS_FILE"] == str(fallback / "tokens.json")
    assert env["API_HISTORY_URL"] == f"sqlite:///{fallback / 'history.db'}"
    assert env["API_JOBS_DIR"] == str(fallback / "jobs")
    assert [name for name, _ in list_tokens(fallback / "tokens.json")] == ["operator"]
    assert (mode(fallback), mode(fallback / "certs" / "server.key"), mode(fallback / "tokens.json")) == (
        0o700,
        0o600,
        0o600,
    )
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[lines.index(BEGIN) : lines.index(END) + 1][4].startswith("sa_")
    assert f"Clients trust {fallback / 'certs' / 'ca.crt'}" in err


def test_a_writable_instance_folder_keeps_what_is_made_and_the_default_history(image_dirs, capsys):
    instance, _, fallback = image_dirs
    env = {}
    assert container.prepare(env) == 0
    assert env["API_TOKENS_FILE"] == str(instance / "tokens.json")
    assert env["API_TLS_KEY"] == str(instance / "certs" / "server.key")
    assert "API_HISTORY_URL" not in env and "API_JOBS_DIR" not in env
    assert not fallback.exists()
    # Started again (a container restarted with its volume): nothing new is made or shown.
    capsys.readouterr()
    assert container.prepare({}) == 0
    assert capsys.readouterr() == ("", "")


def test_with_certificates_and_tokens_mounted_nothing_is_made(image_dirs, monkeypatch, capsys):
    instance, certs, fallback = image_dirs
    read_only(monkeypatch, instance)
    generate(certs)
    create_token(instance / "tokens.json", "alice")
    env = {}
    assert container.prepare(env) == 0
    assert "API_TLS_CERT" not in env and "API_TOKENS_FILE" not in env
    assert [name for name, _ in list_tokens(instance / "tokens.json")] == ["alice"]
    assert sorted(path.name for path in fallback.iterdir()) == []
    assert capsys.readouterr() == ("", "")


def test_certificates_the_environment_names_are_used_as_given_never_made(image_dirs, monkeypatch, tmp_path):
    instance, _, fallback = image_dirs
    read_only(monkeypatch, instance)
    named = tmp_path / "elsewhere" / "tokens.json"
    create_token(named, "alice")
    env = {
        "API_TLS_CERT": "/run/secrets/crt",
        "API_TLS_KEY": "/run/secrets/key",
        "API_TOKENS_FILE": str(named),
    }
    assert container.prepare(env) == 0
    # Gunicorn gets the operator's paths (and refuses to start if they are wrong): no certificate of ours.
    assert (env["API_TLS_CERT"], env["API_TLS_KEY"]) == ("/run/secrets/crt", "/run/secrets/key")
    assert not (fallback / "certs").exists()


def test_an_unreadable_tokens_file_stops_the_start_with_one_line(image_dirs, monkeypatch, capsys):
    instance, certs, _ = image_dirs
    generate(certs)
    (instance / "tokens.json").write_text("not json")
    assert container.prepare({}) == 1
    assert capsys.readouterr().err.startswith(f"error: {instance / 'tokens.json'}: not valid JSON")
