"""pyproject.toml states the project's dependencies and commands: they match the pins, and they run."""

import re
import subprocess
import sys
import tomllib

from model.paths import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def _pins(path):
    """Return the requirement lines of a requirements file, without comments, in order."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def test_declared_dependencies_are_the_pinned_serving_set():
    """Every pin of requirements.txt is a dependency of the project, at the same version, and nothing else."""
    assert PYPROJECT["project"]["dependencies"] == _pins(PROJECT_ROOT / "requirements.txt")


def test_every_dependency_is_pinned_to_one_version():
    """Pins, not ranges: the project runs with the versions it was tested with."""
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.]*", requirement), requirement


def test_console_entry_points_name_the_commands_that_run():
    """Each script's target is the main() that `python -m` runs; calling it with --help exits 0."""
    scripts = PYPROJECT["project"]["scripts"]
    assert set(scripts) == {"sentiment-api", "sentiment-model"}
    for target in scripts.values():
        module, function = target.split(":")
        code = f"import sys; from {module} import {function}; sys.argv[0] = 'x'; {function}(['--help'])"
        command = [sys.executable, "-c", code]
        result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout
