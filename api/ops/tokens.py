"""Bearer tokens: created at random, stored only as SHA-256 hashes, reloaded while running.

The tokens file is JSON: ``{"version": 1, "tokens": {"<name>": {"sha256": ..., "created": ...}}}``;
an entry may also hold ``"admin": true`` (absent means false, so older files keep working).
Command line: ``python -m api token create NAME [--admin] [--force] | revoke NAME | list``
(see api/__main__.py).
"""

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.files import private_folder

log = logging.getLogger(__name__)

FILE_VERSION = 1
# A recognisable prefix lets secret scanners find leaked tokens.
TOKEN_PREFIX = "sa_"  # noqa: S105 - a public prefix, not a secret
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TokenFileError(ValueError):
    """The tokens file cannot be read or has the wrong shape."""


class TokenExists(ValueError):
    """A token of that name is already in the tokens file (and replacing it was not asked for)."""


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token (tokens are random, so no salt or KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_tokens(payload: bytes) -> dict[str, str]:
    """Return ``{name: sha256}`` from the bytes of a tokens file, or raise TokenFileError."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise TokenFileError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
        raise TokenFileError(f"expected an object with version {FILE_VERSION}")
    entries = data.get("tokens")
    if not isinstance(entries, dict):
        raise TokenFileError('"tokens" must be an object')
    hashes: dict[str, str] = {}
    for name, entry in entries.items():
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise TokenFileError(f"token {name!r} has no valid sha256")
        if not isinstance(entry.get("admin", False), bool):
            raise TokenFileError(f"token {name!r} has a non-boolean admin flag")
        hashes[name] = digest
    return hashes


def parse_admins(payload: bytes) -> set[str]:
    """Return the names of the admin tokens of a tokens file that ``parse_tokens`` accepted."""
    return {name for name, entry in json.loads(payload)["tokens"].items() if entry.get("admin") is True}


class TokenStore:
    """A worker's view of the tokens file, refreshed when the file changes.

    The file is stat()ed at most once per ``reload_seconds``, so revocations
    reach running workers quickly without file I/O on every request. A file
    that turns unreadable or corrupt keeps the last good set (and logs an
    error); a missing file means no valid tokens.
    """

    def __init__(self, path: str | Path, reload_seconds: float = 1.0) -> None:
        self.path = Path(path)
        self.reload_seconds = reload_seconds
        self._names: dict[str, str] = {}  # sha256 hex -> token name
        self._admins: set[str] = set()
        # The file's (inode, mtime, size) when last read, "missing", or None before the first look.
        self._signature: tuple[int, int, int] | str | None = None
        self._checked_at = float("-inf")

    def lookup(self, token: str | None) -> str | None:
        """Return the name of ``token`` or None: one hash and one dictionary lookup, whatever the count.

        A dictionary lookup's time depends on the key, unlike a constant-time compare,
        but the key is the SHA-256 of the presented token: to use what timing tells, an
        attacker would have to choose tokens whose hashes approach a stored one, which
        means finding preimages of a hash of 256 random bits.
        """
        self._refresh()
        if not token:
            return None
        return self._names.get(hash_token(token))

    def is_admin(self, name: str) -> bool:
        """Return True if the token called ``name`` has the admin flag."""
        self._refresh()
        return name in self._admins

    def _refresh(self) -> None:
        """Reload the file if it changed and the reload interval has passed."""
        now = time.monotonic()
        if now - self._checked_at < self.reload_seconds:
            return
        self._checked_at = now
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._signature != "missing":
                log.warning("tokens file %s does not exist: no token is valid", self.path)
            self._names, self._admins, self._signature = {}, set(), "missing"
            return
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if signature == self._signature:
            return
        try:
            payload = self.path.read_bytes()
            hashes, admins = parse_tokens(payload), parse_admins(payload)
            self._names, self._admins = {digest: name for name, digest in hashes.items()}, admins
        except (OSError, TokenFileError) as exc:
            log.error(
                "tokens file %s unusable, keeping the previous %d token(s): %s",
                self.path,
                len(self._names),
                exc,
            )
        self._signature = signature


@contextmanager
def _locked_tokens(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the tokens file's data under an exclusive lock; write it back atomically."""
    path = Path(path)
    private_folder(path.parent)
    lock_path = path.with_name(path.name + ".lock")
    with open(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data: dict[str, Any] = {"version": FILE_VERSION, "tokens": {}}
        if path.exists():
            parse_tokens(path.read_bytes())  # refuse to overwrite a file we cannot read
            data = json.loads(path.read_bytes())
        yield data
        tmp = path.with_name(path.name + ".tmp")
        # A fresh file (one left by a crash could be 0644, a mode O_TRUNC would keep): the lock is ours.
        tmp.unlink(missing_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)


def create_token(path: str | Path, name: str, admin: bool = False, replace: bool = False) -> str:
    """Create the token called ``name``; return the token, which is never stored.

    ``admin``: the token may read every caller's prediction history and /metrics.
    ``replace``: a token of that name is replaced; without it, TokenExists is raised and
    the file is left as it was (a typo must not swap an admin token for a plain one).
    """
    if not NAME_RE.match(name):
        raise ValueError(f"invalid token name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with _locked_tokens(path) as data:
        if name in data["tokens"] and not replace:
            raise TokenExists(f"a token named {name!r} already exists in {path}")
        data["tokens"][name] = {
            "sha256": hash_token(token),
            "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "admin": admin,
        }
    return token


def revoke_token(path: str | Path, name: str) -> bool:
    """Remove the token called ``name``; return True if it existed."""
    with _locked_tokens(path) as data:
        return data["tokens"].pop(name, None) is not None


def list_tokens(path: str | Path) -> list[tuple[str, str]]:
    """Return ``[(name, created)]`` of the tokens file."""
    path = Path(path)
    if not path.exists():
        return []
    parse_tokens(path.read_bytes())
    entries = json.loads(path.read_bytes())["tokens"]
    return [(name, entry.get("created", "")) for name, entry in sorted(entries.items())]
