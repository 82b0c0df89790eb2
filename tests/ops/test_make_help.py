"""`make help`, as a new user reads it: one line per documented target, the name apart from its text.

Every target with a `## description` in the Makefile is listed as `make <target>  <description>`:
at least two spaces between them however long the name, and nothing left for the shell to expand
(a `$$` in a description reaches the screen as it is).
"""

import re
import subprocess

from tests.e2e import ROOT

# `  make <target>  <description>`: two spaces at least between the name and its description.
HELP_LINE = re.compile(r"^  make (?P<target>[a-z-]+) {2,}(?P<text>\S.*)$")
DOCUMENTED = re.compile(r"^(?P<target>[a-z-]+):.*## (?P<text>.+)$", re.MULTILINE)


def _help_lines():
    """Run `make help` in the project and return its output's lines."""
    command = ["make", "--no-print-directory", "help"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def test_every_help_line_is_a_target_then_its_description():
    lines = _help_lines()
    assert lines
    unmatched = [line for line in lines if not HELP_LINE.match(line)]
    assert unmatched == []
    # The descriptions start in one column: a long name does not push its own text out of line.
    starts = {HELP_LINE.match(line).start("text") for line in lines}
    assert len(starts) == 1


def test_help_lists_every_documented_target_with_its_description():
    listed = {m["target"]: m["text"] for m in map(HELP_LINE.match, _help_lines()) if m}
    documented = {m["target"]: m["text"] for m in DOCUMENTED.finditer((ROOT / "Makefile").read_text())}
    assert listed == documented
    assert {"api-start", "client-cert", "jobs-worker", "deploy-check"} <= set(listed)


def test_help_shows_no_make_or_shell_escapes():
    text = "\n".join(_help_lines())
    assert "$$" not in text
    assert "${" not in text
    assert "https://0.0.0.0:5000" in text
