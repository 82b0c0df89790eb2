"""Tests for api.ops.certs: the command line (`python -m api.ops.certs`)."""

import os
import subprocess
import sys

from api.ops import certs
from model.paths import PROJECT_ROOT
from tests.ops import helpers as certs_helpers
from tests.ops.helpers import load_cert, sans

# The shared fixtures, found by pytest under these names (_no_env_sans is autouse).
_no_env_sans = certs_helpers._no_env_sans
paths = certs_helpers.paths


def test_cli_reports_existing_files_and_hint(tmp_path, capsys):
    out = tmp_path / "certs"
    assert certs.main(["--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert first.count("wrote ") == 4
    assert f"curl --cacert {out / 'ca.crt'} https://localhost:5000/healthz" in first
    assert certs.main(["--out", str(out), "--san", "new.example"]) == 0
    second = capsys.readouterr()
    assert "already exist" in second.out and "wrote" not in second.out
    assert "lacks new.example" in second.err


def test_cli_invalid_san_exits_2_with_one_line(tmp_path, capsys):
    assert certs.main(["--out", str(tmp_path / "certs"), "--san", "ok.example", "bad name"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "certs").exists()


def test_module_runs_as_script(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != certs.SANS_ENV}
    env[certs.SANS_ENV] = "from-env.example"
    result = subprocess.run(
        [sys.executable, "-m", "api.ops.certs", "--out", str(tmp_path), "--san", "a.example", "b.example"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "https://localhost:5000/healthz" in result.stdout
    dns, _ = sans(load_cert(tmp_path / "server.crt"))
    assert dns == ["localhost", "a.example", "b.example", "from-env.example"]
