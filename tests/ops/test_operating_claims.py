"""README "Operating it" claims that no other test checked: `make help`, the environment table against
Settings (names and defaults), client certificates, tokens (256 bits, what the file holds, where it
lives) and how often a worker looks at the tokens file."""

import base64
import json
import logging
import multiprocessing
import os
import re
import subprocess
from types import SimpleNamespace

import pytest
import time_machine

from api.ops import certs
from api.ops import tokens as tokenstore
from api.ops.tokens import TokenStore, create_token
from api.settings import Settings
from tests.e2e import ROOT
from tests.ops.helpers import load_cert

README = ROOT / "README.md"
# Set by the Gunicorn master for its own children, never by an operator: not in the README's table.
INTERNAL = {"HISTORY_WRITER_SOCKET", "API_VERIFIED_MODELS_DIR"}
# Read by `make certs` (api/ops/certs.py), not by the server: not a field of Settings.
CERTS_ONLY = {"API_TLS_SANS"}
TARGETS = ["help", "install", "certs", "client-cert", "token", "revoke", "migrate", "train", "evaluate"]
TARGETS += ["api-start", "test", "lint"]
# The README's "default" column, as values of Settings (None: computed or set elsewhere, as it says).
DEFAULTS = {
    "PORT": 5000,
    "HOST": "0.0.0.0",
    "WORKERS": multiprocessing.cpu_count(),
    "WORKER_CONNECTIONS": 1000,
    "API_MAX_CONNECTIONS_PER_ADDRESS": 100,
    "API_MAX_CONNECTIONS": None,  # 90% of WORKER_CONNECTIONS, computed by the server
    "TLS_HANDSHAKE_TIMEOUT": 5,
    "API_TLS_CERT": ROOT / "certs" / "server.crt",
    "API_TLS_KEY": ROOT / "certs" / "server.key",
    "API_TOKENS_FILE": ROOT / "instance" / "tokens.json",
    "API_TOKEN_RELOAD_SECONDS": 1,
    "API_RATE_LIMIT": "60/minute",
    "API_WORK_LIMIT": "2000000/minute",
    "API_MAX_IN_FLIGHT": 8,
    "API_RATE_LIMIT_STORAGE": "memory://",
    "API_AUTH_FAILURE_LIMIT": "10/minute",
    "API_TLS_PROFILE": "intermediate",
    "API_TLS_CLIENT_AUTH": "none",
    "API_TLS_CLIENT_CA": ROOT / "certs" / "ca.crt",
    "OPENSSL_CONF": None,  # set by make and the Dockerfile: test_make_and_the_image_set_openssl_conf
    "API_MAX_BODY_BYTES": 2097152,
    "API_MAX_ITEMS": 1000,
    "API_MAX_TWEET_CHARS": 560,
    "API_MAX_KEY_CHARS": 128,
    "API_ARTIFACTS_DIR": ROOT / "artifacts",
    "API_MODEL": None,  # the manifest's default
    "API_MODEL_RELOAD_SECONDS": 2.0,
    "API_SHUTDOWN_DELAY": 0.0,
    "API_SHADOW_MODEL": None,
    "API_HISTORY_URL": f"sqlite:///{ROOT / 'instance' / 'history.db'}",
    "API_HISTORY_TEXT": False,
    "API_HISTORY_MAX_ROWS": 100000,
    "API_HISTORY_MAX_AGE_DAYS": 30,
    "API_HISTORY_WRITER_NICE": 19,
    "API_HISTORY_MIGRATE_TIMEOUT": 60,
    "API_FEEDBACK_WINDOW": 1000,
    "API_DRIFT_WINDOW": 1000,
    "REQUEST_TIMEOUT": 30,
    "LOG_LEVEL": "info",
    "ACCESS_LOG": "-",
    "PROMETHEUS_MULTIPROC_DIR": None,  # a private temporary folder, made by the master
    "API_JOBS_BROKER_URL": "",  # empty: the embedded worker and broker
    "API_JOBS_QUEUE": "sentiment-jobs",
    "API_JOBS_DATABASE_URL": "",  # empty: the history's database, or instance/jobs.db
    "API_JOBS_DIR": ROOT / "instance" / "jobs",
    "API_JOBS_MAX_UPLOAD_BYTES": 268435456,
    "API_JOBS_MAX_ROWS": 2000000,
    "API_JOBS_MAX_ACTIVE": 2,
    "API_JOBS_MIN_FREE_BYTES": 1073741824,
    "API_JOBS_RETENTION_HOURS": 24,
    "API_JOBS_CHUNK_ROWS": 5000,
    "API_JOBS_EMBEDDED_NICE": 10,
}


def _env_names():
    """Return {environment variable: Settings field} for every field of Settings."""
    return {
        field.validation_alias if isinstance(field.validation_alias, str) else f"API_{name}": name
        for name, field in Settings.model_fields.items()
    }


def _readme_variables():
    """Return the variable names of the README's "Environment variables" table, in order."""
    section = README.read_text().split("### Environment variables", 1)[1].split("\n### ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return [name for cell in rows for name in re.findall(r"`([A-Z_]+)`", cell)]


def test_make_help_lists_every_target_the_readme_names():
    result = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^\s*make (\S+)", result.stdout, re.M)
    assert [target for target in TARGETS if target not in listed] == []


def test_the_readmes_table_names_every_setting_and_nothing_else():
    names = _readme_variables()
    assert len(names) == len(set(names))
    assert set(names) - CERTS_ONLY == set(_env_names()) - INTERNAL
    assert set(DEFAULTS) == set(names) - CERTS_ONLY


@pytest.mark.parametrize("variable", sorted(DEFAULTS))
def test_each_variable_defaults_to_what_the_readme_says(monkeypatch, variable):
    for name in _env_names():
        monkeypatch.delenv(name, raising=False)
    assert getattr(Settings(), _env_names()[variable]) == DEFAULTS[variable]


# What each target runs (`make -n`, with a .venv of the test's own), in the README's words.
DATA = '--data "../shared/data/tweet_sentiment_10K.csv"'
DRY_RUNS = {
    "install": ["-c constraints.txt -r requirements.txt", "-c constraints.txt -r requirements-dev.txt"],
    "migrate": ["-m api history migrate"],
    "train": [f"-m model train {DATA}"],
    "evaluate": [f"-m model evaluate {DATA} --out reports"],
    "test": ["-m pytest"],
    "lint": ["ruff check .", "ruff format --check .", "lint-imports", "hadolint Dockerfile"],
}


@pytest.mark.parametrize("target", DRY_RUNS)
def test_each_make_target_runs_what_the_readme_says(tmp_path, target):
    venv = tmp_path / "venv"
    env = {name: value for name, value in os.environ.items() if name not in ("DATA", "VENV")}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={venv}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [fragment for fragment in DRY_RUNS[target] if fragment not in result.stdout] == []
    if target == "install":
        assert f"{venv}/bin/python -m pip install" in result.stdout


def test_make_and_the_image_set_openssl_conf():
    recipe = (ROOT / "Makefile").read_text().split("\napi-start:", 1)[1].split("\n\n", 1)[0]
    assert "OPENSSL_CONF=${OPENSSL_CONF:-$(CURDIR)/deploy/openssl.cnf}" in recipe.replace("$$", "$")
    assert re.search(r"(?<![\w$])OPENSSL_CONF=/app/deploy/openssl\.cnf\b", (ROOT / "Dockerfile").read_text())


def test_a_client_certificate_is_issued_under_clients_from_the_local_ca(tmp_path, monkeypatch):
    monkeypatch.delenv(certs.SANS_ENV, raising=False)
    out = tmp_path / "certs"
    assert certs.main(["--out", str(out)]) == 0
    assert certs.main(["--out", str(out), "--client", "alice"]) == 0
    cert, key = out / "clients" / "alice.crt", out / "clients" / "alice.key"
    load_cert(cert).verify_directly_issued_by(load_cert(out / "ca.crt"))
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_token_is_sa_then_256_random_bits(tmp_path):
    path = tmp_path / "tokens.json"
    made = {create_token(path, f"t{i}") for i in range(5)}
    assert len(made) == 5
    for token in made:
        assert token.startswith("sa_")
        assert len(base64.urlsafe_b64decode(token.removeprefix("sa_") + "=")) == 32


def test_the_tokens_file_holds_each_tokens_hash_time_and_flag_under_its_name(tmp_path):
    path = tmp_path / "tokens.json"
    token = create_token(path, "alice")
    entries = json.loads(path.read_text())["tokens"]
    assert list(entries) == ["alice"]
    assert set(entries["alice"]) == {"sha256", "created", "admin"}
    assert token not in path.read_text()


def test_the_default_tokens_file_is_git_ignored():
    default = Settings.model_fields["TOKENS_FILE"].default.relative_to(ROOT)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(default)], cwd=ROOT, timeout=60)
    assert ignored.returncode == 0, f"{default} is not git-ignored"


def test_a_worker_looks_at_the_tokens_file_at_most_once_per_interval(tmp_path, monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(tokenstore, "time", SimpleNamespace(monotonic=lambda: clock.now))
    path = tmp_path / "tokens.json"
    old = create_token(path, "old")
    store = TokenStore(path, reload_seconds=5)
    assert store.lookup(old) == "old"
    new = create_token(path, "new")
    clock.now += 4.9
    assert store.lookup(new) is None  # not looked at yet
    clock.now += 0.2
    assert store.lookup(new) == "new"


def test_a_corrupt_tokens_file_is_logged_as_an_error(tmp_path, caplog):
    path = tmp_path / "tokens.json"
    token = create_token(path, "alice")
    store = TokenStore(path, reload_seconds=0)
    assert store.lookup(token) == "alice"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger=tokenstore.log.name):
        assert store.lookup(token) == "alice"
    assert [record.levelname for record in caplog.records] == ["ERROR"]
    assert "keeping the previous 1 token(s)" in caplog.text


def test_the_rate_limit_takes_several_limits_in_flask_limiters_syntax(make_app, auth_header):
    client = make_app(RATE_LIMIT="100/minute;2/second").test_client()
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        statuses = [client.get("/api/v1/model", headers=auth_header).status_code for _ in range(3)]
        clock.shift(1)
        statuses.append(client.get("/api/v1/model", headers=auth_header).status_code)
    assert statuses == [200, 200, 429, 200]
