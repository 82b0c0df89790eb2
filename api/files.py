"""Files that hold secrets or personal data (tokens, keys, prediction history): mode 0600, in 0700 folders.

Created so from the start (``os.open``/``os.mkdir`` with the mode, which the umask can
only narrow), never chmod-ed after, so there is no moment when another user could open
them. Files and folders that already exist are left as the operator made them.
"""

import contextlib
import logging
import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

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


def sqlite_file(url: str) -> Path | None:
    """Return the database file a ``sqlite:///`` URL names; None for another backend, memory or a URI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def private_sqlite(engine: Engine, url: str) -> None:
    """Have the SQLite file of ``url`` created 0600 in a 0700 folder: now, and before each new connection.

    SQLite creates a missing file with the umask's mode (0644 as a rule) and gives its
    -wal and -shm files the database file's. Before each connection too, so that a file
    that appears while the server runs (its folder made late, the file removed) is private.
    """
    path = sqlite_file(url)
    if path is None:
        return
    _create_sqlite_file(path, warn=True)
    event.listen(engine, "do_connect", lambda *_: _create_sqlite_file(path))


def _create_sqlite_file(path, warn=False):
    """Create the database file unless it exists; if that fails, SQLite's own connection error says so."""
    try:
        private_file(path)
    except OSError as exc:
        if warn:
            # Like a database that is down: writes fail and are counted, predictions go on.
            log.warning("history database %s cannot be created: %s", path, exc)
