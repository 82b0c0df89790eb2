"""Files that hold secrets or personal data (tokens, keys, prediction history): mode 0600, in 0700 folders.

Created so from the start (``os.open``/``os.mkdir`` with the mode, which the umask can
only narrow), never chmod-ed after, so there is no moment when another user could open
them. Files and folders that already exist are left as the operator made them.

The history's SQLite files are made so too, by its store (api/history/engine.py).
"""

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """Create ``path`` and each missing parent as a 0700 folder; return ``path``."""
    path = Path(path)
    missing = []
    for folder in [path, *path.parents]:
        if folder.exists():
            break  # there already: left as the operator made it
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            os.mkdir(folder, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600, in a private folder, unless it exists; return ``path``."""
    path = Path(path)
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):  # O_EXCL: an existing file (or symlink) is left alone
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path
