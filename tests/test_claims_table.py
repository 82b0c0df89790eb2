"""tests/README.md's claim → test table names only tests that exist."""

import ast
import re
from pathlib import Path

from tests.e2e import ROOT

TABLE = ROOT / "tests" / "README.md"
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)")


def _test_names(path: Path) -> set[str]:
    """Return the names of the test functions defined at the top of ``path``."""
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_node_id_in_the_claims_table_names_a_test_that_exists():
    named = NODE_ID.findall(TABLE.read_text())
    assert len(named) > 100  # the table is there, and read
    missing = [f"{file}::{name}" for file, name in named if name not in _test_names(ROOT / file)]
    assert missing == []


def test_the_table_covers_each_section_the_issue_names():
    headings = set(re.findall(r"^## (.+)$", TABLE.read_text(), re.M))
    wanted = {"Endpoints", "Web pages", "Operating it", "TLS", "Rate limits and the work budget"}
    wanted |= {"Hostile clients and faults", "Prediction history", "Metrics", "Logs", "Deployment", "Jobs"}
    assert wanted <= headings
