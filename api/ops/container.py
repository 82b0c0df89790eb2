"""The image's start: ``python -m api.ops.container``, what ``make api-start`` does, in a container.

With nothing mounted, it makes what the server needs, as ``make certs`` and ``make first-token`` do
(a private CA and server certificate, a first token shown once on stderr), then runs Gunicorn.
Whatever is mounted or named in the environment is used as it is: certificates at ``API_TLS_CERT``/
``API_TLS_KEY`` (default /app/certs/server.crt and .key), a tokens file at ``API_TOKENS_FILE``
(default /app/instance/tokens.json) that holds a token. Then nothing is made.

What it makes goes to the instance folder (/app/instance) when the container can write there (a
volume, or a container without ``--read-only``), else to a private folder under /tmp, which a
read-only root file system leaves writable (``--tmpfs /tmp``) and which goes with the container. The
default SQLite history and job state follow it there. Files are 0600 in 0700 folders (api/files.py).
"""

import os
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

from api.ops.certbuild import CertError
from api.ops.certfiles import generate_files
from api.ops.firsttoken import ensure_first_token
from api.settings import INSTANCE_DIR, Settings, url_keeps_history, variable_of

# The server, as the image's CMD ran it before this start existed.
SERVER = ("gunicorn", "--config", "gunicorn.conf.py", "wsgi:app")
# Where made files go when the instance folder cannot be written (a read-only root file system).
FALLBACK_DIR = Path(tempfile.gettempdir()) / "sentiment-api"


def default(field: str) -> Path:
    """Return a path setting's default (the value it has when its variable is not set)."""
    return Path(Settings.model_fields[field].default)


def state_dir() -> Path:
    """Return where made files go: the instance folder if writable, else FALLBACK_DIR (made 0700)."""
    folder = INSTANCE_DIR if os.access(INSTANCE_DIR, os.W_OK) else FALLBACK_DIR
    # Not api.files.private_folder: that leaves an existing folder as it is, and /tmp is shared.
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def place_state(env: MutableMapping[str, str], folder: Path) -> None:
    """Point the default SQLite history, job folder and job database at ``folder`` (unless set)."""
    if folder == INSTANCE_DIR:
        return  # the defaults already live there
    env.setdefault(variable_of("HISTORY_URL"), f"sqlite:///{folder / 'history.db'}")
    env.setdefault(variable_of("JOBS_DIR"), str(folder / "jobs"))
    if not url_keeps_history(env[variable_of("HISTORY_URL")]):
        # With no history, the job state's default is a SQLite file beside it: in the instance folder.
        env.setdefault(variable_of("JOBS_DATABASE_URL"), f"sqlite:///{folder / 'jobs.db'}")


def ensure_certificates(env: MutableMapping[str, str], folder: Path) -> None:
    """Use the certificate the environment names or mounted; else make them in ``folder``/certs."""
    cert, key = variable_of("TLS_CERT"), variable_of("TLS_KEY")
    if cert in env or key in env:
        return  # the operator named them: Gunicorn uses (or refuses) exactly those
    if default("TLS_CERT").is_file() and default("TLS_KEY").is_file():
        return  # mounted at the default place
    out = folder / "certs"
    paths, written = generate_files(out, (), force=False)
    env[cert], env[key] = str(paths["server_cert"]), str(paths["server_key"])
    if written:
        print(
            f"No certificate mounted: made a private CA and a server certificate in {out}. Clients"
            f" trust {paths['ca_cert']} (e.g. docker exec <container> cat {paths['ca_cert']} > ca.crt).",
            file=sys.stderr,
            flush=True,
        )


def choose_tokens_file(env: MutableMapping[str, str], folder: Path) -> Path:
    """Return the tokens file: the one named or mounted, else one in ``folder``."""
    name = variable_of("TOKENS_FILE")
    if name not in env and not default("TOKENS_FILE").exists():
        env[name] = str(folder / "tokens.json")
    return Path(env.get(name, default("TOKENS_FILE")))


def prepare(env: MutableMapping[str, str]) -> int:
    """Make what is missing and complete ``env`` for the server; return 0, or 1 having said why not."""
    folder = state_dir()
    place_state(env, folder)
    try:
        ensure_certificates(env, folder)
    except CertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return ensure_first_token(choose_tokens_file(env, folder))


def main() -> int:
    """Prepare, then replace this process with the server (so it gets the container's signals)."""
    env = dict(os.environ)
    status = prepare(env)
    if status:
        return status
    os.execvpe(SERVER[0], list(SERVER), env)  # noqa: S606 - a fixed command, no shell


if __name__ == "__main__":
    sys.exit(main())
