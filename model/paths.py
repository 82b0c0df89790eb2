"""Where the project's own folders are, stated once: the checkout holds the packages beside
``artifacts/``, ``certs/``, ``migrations/`` and ``instance/``. A module of its own, so that
settings can name them without importing the model code (and scikit-learn with it)."""

import os
from importlib.resources import files
from pathlib import Path

# A file or folder as callers give it: a Path, or its text from the command line or the settings.
AnyPath = str | os.PathLike[str]

# The folder that holds the ``model`` package (and ``api``, ``artifacts/``...): the checkout.
PROJECT_ROOT = Path(str(files("model"))).parent
ARTIFACTS_DIR = PROJECT_ROOT / "artifacts"
# The shared data folder lives beside the checkout (README, "Data").
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data" / "tweet_sentiment_10K.csv"
