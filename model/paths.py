"""Where the project keeps its artifacts: a module of its own, so that settings can name the
folder without importing the model code (and scikit-learn with it)."""

from pathlib import Path

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "artifacts"
