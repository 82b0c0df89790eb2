"""Shared fixtures: an app factory with its own token file, and small data made here."""

import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.ops.certs import generate
from api.ops.tokens import create_token
from api.settings import Settings
from api.web import create_app
from model.paths import DEFAULT_DATA
from model.serving.artifacts import DEFAULT_DIR
from tests.client.stub import running_stub
from tests.e2e import ROOT, wait_for_port
from tests.samples import write_csv

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


SSLYZE = ROOT / ".venv-sslyze" / "bin" / "sslyze"
# The machine's shared database servers (tests make a fresh database of their own in each).
DATABASES = {"mariadb": ("127.0.0.1", 3306), "postgres": ("127.0.0.1", 5432)}


def _reachable(address):
    """Return True if a TCP server answers at ``address``."""
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


CHROMIUM = Path("/usr/bin/chromium")
# The machine's RabbitMQ (guest/guest), started by the tests if it is stopped (tests/jobs/test_live_*).
RABBITMQ = ("127.0.0.1", 5672)
RABBITMQ_START_TIMEOUT = 60


@functools.cache  # once per run: a broker that would not start is not tried again for every test
def rabbitmq_problem():
    """Return why no RabbitMQ answers at RABBITMQ, or None; start it first if it is installed and stopped."""
    if _reachable(RABBITMQ):
        return None
    if not shutil.which("rabbitmq-server"):
        return f"no RabbitMQ at {RABBITMQ[0]}:{RABBITMQ[1]} and rabbitmq-server not installed"
    # -detached returns at once; as root, Debian's wrapper runs the broker as the rabbitmq user.
    subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + RABBITMQ_START_TIMEOUT
    while time.monotonic() < deadline:
        if _reachable(RABBITMQ):
            return None
        time.sleep(0.5)  # polling loop with a deadline
    host, port = RABBITMQ
    return f"rabbitmq-server -detached: nothing answers at {host}:{port} after {RABBITMQ_START_TIMEOUT} s"


def _missing(marker):
    """Return why a test with ``marker`` cannot run here, or None."""
    if marker == "data" and not DEFAULT_DATA.is_file():
        return f"shared data set not found at {DEFAULT_DATA}"
    if marker == "sslyze" and not SSLYZE.exists():
        return f"sslyze not installed at {SSLYZE} (make test installs it)"
    if marker == "redis" and not shutil.which("redis-server"):
        return "redis-server not installed"
    if marker == "curl" and not shutil.which("curl"):
        return "curl not installed"
    if marker == "browser" and not CHROMIUM.exists():
        return f"chromium not installed at {CHROMIUM} (make test installs it)"
    if marker == "rabbitmq":
        return rabbitmq_problem()
    if marker in DATABASES and not _reachable(DATABASES[marker]):
        return f"no {marker} server at {DATABASES[marker][0]}:{DATABASES[marker][1]}"
    return None


def pytest_collection_modifyitems(config, items):
    """Skip tests whose data set or tool is absent, except under CI, where they run and fail."""
    if IN_CI:
        return
    for item in items:
        for marker in ("data", "sslyze", "redis", "browser", "curl", "rabbitmq", *DATABASES):
            reason = _missing(marker) if marker in item.keywords else None
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def tokens(tmp_path):
    """A tokens file holding one token named alice; returns (path, token)."""
    path = tmp_path / "tokens.json"
    return path, create_token(path, "alice")


@pytest.fixture
def make_app(tokens, tmp_path):
    """Return a factory that builds an app from the committed artifacts and the test tokens file."""

    def factory(**overrides):
        """Build the app; keyword names are Settings fields, or Flask's own keys (MAX_CONTENT_LENGTH)."""
        fields = {
            "TOKENS_FILE": tokens[0],
            "TOKEN_RELOAD_SECONDS": 0,
            "ARTIFACTS_DIR": DEFAULT_DIR,
            "RATE_LIMIT": "1000/minute",
            "RATE_LIMIT_STORAGE": "memory://",
            # No history unless a test asks for one: no writer thread per app, no file in instance/.
            "HISTORY_URL": "none",
            # Each app its own jobs: never the project's instance/jobs/ and instance/jobs.db.
            "JOBS_DIR": tmp_path / "jobs",
            "JOBS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        }
        flask_keys = {key: value for key, value in overrides.items() if key not in Settings.model_fields}
        fields.update((key, value) for key, value in overrides.items() if key in Settings.model_fields)
        return create_app(Settings(**fields), {"TESTING": True, **flask_keys})

    return factory


@pytest.fixture
def app(make_app):
    """An app with default test settings."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def auth_header(tokens):
    """The Authorization header of alice's token."""
    return {"Authorization": f"Bearer {tokens[1]}"}


@pytest.fixture
def small_csv(tmp_path):
    """A small balanced data set made by the test (40 tweets per class)."""
    return write_csv(tmp_path / "small.csv")


@dataclass
class ApiStart:
    """A running `make api-start`: where its stdout and stderr go, its process, and its port."""

    stdout: Path
    stderr: Path
    process: subprocess.Popen
    _port: int | None = None

    @property
    def port(self) -> int:
        """The port Gunicorn logged it listens on (started with PORT=0), waited for on first use."""
        if self._port is None:
            # Its error log, "Listening at: ..." included, goes to stderr.
            self._port = wait_for_port(self.stderr, self.process)
        return self._port


@contextmanager
def start_api(tmp):
    """Run `make api-start` with a fresh tokens file and history in ``tmp``; stop it on exit."""
    env = {
        **os.environ,
        "PORT": "0",  # any free port: see ApiStart.port
        "API_TOKENS_FILE": str(tmp / "tokens.json"),
        "API_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}",
        # ...and its own jobs: files, and the embedded broker's queue folders under it.
        "API_JOBS_DIR": str(tmp / "jobs"),
    }
    started = ApiStart(tmp / "api-start.out", tmp / "api-start.err", None)
    # Apart: the access log is on stdout, which `> api.log`, docker logs or journald keep.
    with open(started.stdout, "wb") as out, open(started.stderr, "wb") as err:
        started.process = subprocess.Popen(
            ["make", "--no-print-directory", "api-start"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        yield started
    finally:
        os.killpg(started.process.pid, signal.SIGTERM)
        started.process.wait(timeout=30)


@pytest.fixture
def api_start(tmp_path):
    """A running `make api-start` (see ApiStart), stopped after the test."""
    with start_api(tmp_path) as started:
        yield started


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A CA and a server certificate for localhost and 127.0.0.1 (api.ops.certs), for scripted servers."""
    folder = tmp_path_factory.mktemp("certs")
    generate(folder)
    return folder


@pytest.fixture
def stub(certs):
    """A scripted HTTPS server (tests/client/stub.py); the test sets stub.answers before calling it."""
    with running_stub(certs) as server:
        yield server
