"""Settings read from the environment once, typed and checked at start-up: every variable the server reads.

The app's are ``API_<FIELD>``; Gunicorn's process settings keep the unprefixed names they have always had.
Each field is the one statement of its key: code reads ``settings.FIELD``, never a key string.
"""

import multiprocessing
from pathlib import Path
from typing import Any, Literal, Protocol

from limits import parse, parse_many
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api import constants as c
from model.paths import ARTIFACTS_DIR as DEFAULT_ARTIFACTS_DIR
from model.paths import PROJECT_ROOT

CERTS_DIR = PROJECT_ROOT / "certs"
INSTANCE_DIR = PROJECT_ROOT / "instance"
# The HISTORY_URL that keeps no prediction history.
HISTORY_OFF = "none"


def url_keeps_history(url: str) -> bool:
    """Return whether a history URL asks for a history: anything but HISTORY_OFF, in any case or spacing."""
    return url.strip().lower() != HISTORY_OFF


class Settings(BaseSettings):
    """Every setting is an environment variable named ``API_<FIELD>`` (see README)."""

    model_config = SettingsConfigDict(env_prefix="API_", case_sensitive=True, extra="ignore")

    TOKENS_FILE: Path = INSTANCE_DIR / "tokens.json"
    # How stale a worker's view of the token file may get: revocations take
    # effect within this many seconds, at the cost of one stat() per interval.
    TOKEN_RELOAD_SECONDS: float = Field(1.0, ge=0)
    ARTIFACTS_DIR: Path = DEFAULT_ARTIFACTS_DIR
    MODEL: str | None = None
    # How often each worker stat()s ARTIFACTS_DIR's manifest for a new set of models (api/web/reload.py);
    # 0: never, new models need a restart.
    MODEL_RELOAD_SECONDS: float = Field(2.0, ge=0, allow_inf_nan=False)
    # A served model that scores a copy of each predict after its answer (api/web/shadow.py); None: none.
    # A name the manifest lacks stops the server at start-up (gunicorn.conf.py, create_app).
    SHADOW_MODEL: str | None = None
    # After SIGTERM, each worker fails /readyz and goes on serving for this many seconds before it stops
    # accepting (api/server/worker.py), so a load balancer's checks take the host out first: a connection
    # arriving as the listening socket closes would be reset, which a TCP proxy cannot retry. 0: stop at
    # once. Within Gunicorn's graceful_timeout (20 s), which also bounds the requests in flight.
    SHUTDOWN_DELAY: float = Field(0.0, ge=0, le=10, allow_inf_nan=False)
    RATE_LIMIT: str = "60/minute"
    RATE_LIMIT_STORAGE: str = "memory://"
    # Failed authentications per client address: brute-force protection.
    AUTH_FAILURE_LIMIT: str = "10/minute"
    # Scoring work per token, in characters scored per model asked (api/web/budget.py): CPU follows
    # characters, not tweets (README, "Hostile clients and faults"). The default admits the
    # largest valid request (1000 tweets of 560 characters, ?model=all: 1,120,000) once a minute.
    WORK_LIMIT: str = "2000000/minute"
    # Requests of one token being served at once by one worker (api/web/fairness.py); 429 beyond.
    MAX_IN_FLIGHT: int = Field(8, ge=1)
    # Connections one client address (IPv4 /32, IPv6 /64) may hold open in one worker, and all
    # addresses together, below the worker's pool (WORKER_CONNECTIONS; default 90% of it): over
    # either, a new connection is closed at once, before any TLS work (api/server/connections.py).
    MAX_CONNECTIONS_PER_ADDRESS: int = Field(100, ge=1)
    MAX_CONNECTIONS: int | None = Field(None, ge=1)
    MAX_BODY_BYTES: int = Field(2 * 1024 * 1024, ge=1024)
    MAX_ITEMS: int = Field(1000, ge=1)
    # Twice Twitter's 280: a tweet's text with its links expanded and HTML entities (&amp;) can
    # exceed 280 characters; the worst valid request stays at ~3 s of CPU (README).
    MAX_TWEET_CHARS: int = Field(560, ge=1)
    MAX_KEY_CHARS: int = Field(128, ge=1)
    # Prediction history (api/history/store.py): a SQLAlchemy URL, or HISTORY_OFF to keep no history.
    HISTORY_URL: str = f"sqlite:///{INSTANCE_DIR / 'history.db'}"
    # Tweets are personal data: their text is stored only when the operator asks for it.
    HISTORY_TEXT: bool = False
    HISTORY_MAX_ROWS: int = Field(100_000, ge=1)
    HISTORY_MAX_AGE_DAYS: float = Field(30, gt=0)
    # The history writer process's nice value (api/history/writer.py): 19 serves predictions first
    # on a saturated server, at the cost of history dropped there; 0 competes as an equal.
    HISTORY_WRITER_NICE: int = Field(19, ge=0, le=19)
    # Seconds the Gunicorn master waits for the start-up migration (gunicorn.conf.py) before it gives
    # up and starts without it: a database that hangs must not hold the server's start for long.
    HISTORY_MIGRATE_TIMEOUT: float = Field(60, gt=0, allow_inf_nan=False)
    # Live accuracy (api/history/monitor.py): over the newest this many feedback rows of each model
    # and version.
    FEEDBACK_WINDOW: int = Field(1000, ge=1)
    # Drift: over the newest this many stored predictions of each served model and version; below
    # model/serving/drift.py's MIN_WINDOW rows nothing is reported.
    DRIFT_WINDOW: int = Field(1000, ge=1)

    # Jobs (api/jobs/): whole files scored by Celery workers, state in a SQL database, files in a folder.
    # Empty broker URL: the embedded default, a worker process the server starts and stops with itself,
    # on kombu's filesystem transport under JOBS_DIR. amqp:// (RabbitMQ) or redis:// moves the work to
    # `make jobs-worker` processes on any machine that reaches the broker, the database and JOBS_DIR.
    JOBS_BROKER_URL: str = ""
    JOBS_DIR: Path = INSTANCE_DIR / "jobs"
    # Job state: a SQLAlchemy URL; empty: the history's database, or instance/jobs.db with history off.
    JOBS_DATABASE_URL: str = ""
    JOBS_MAX_UPLOAD_BYTES: int = Field(256 * 1024 * 1024, ge=1024)
    JOBS_MAX_ROWS: int = Field(2_000_000, ge=1)
    # Jobs of one token queued or running at once; 429 beyond.
    JOBS_MAX_ACTIVE: int = Field(2, ge=1)
    # The disk guard: an upload is refused (507) when JOBS_DIR's file system would keep less free.
    JOBS_MIN_FREE_BYTES: int = Field(1024**3, ge=0)
    # Uploads, results and job records are deleted this long after the job was created.
    JOBS_RETENTION_HOURS: float = Field(24, gt=0, allow_inf_nan=False)
    # Rows per Celery task: large enough that a task's overhead is small next to its scoring.
    JOBS_CHUNK_ROWS: int = Field(5000, ge=1)
    # The broker's queue the tasks go through: two servers (or two test runs) on one broker keep apart
    # by naming different queues.
    JOBS_QUEUE: str = Field("sentiment-jobs", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    # The embedded worker's nice value (api/jobs/embedded.py): 10 lets requests come first on a busy
    # server, a job taking the cores they leave; 0 competes as an equal.
    JOBS_EMBEDDED_NICE: int = Field(10, ge=0, le=19)

    # Gunicorn's and the app's log level; unprefixed, as Gunicorn's own setting has always been.
    LOG_LEVEL: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", validation_alias="LOG_LEVEL"
    )

    @field_validator("WORK_LIMIT")
    @classmethod
    def _one_limit(cls, value: str) -> str:
        """A single limit in flask-limiter's syntax (``2000000/minute``): one budget, one window."""
        parse(value)  # raises ValueError naming what it could not read
        return value

    @field_validator("RATE_LIMIT", "AUTH_FAILURE_LIMIT")
    @classmethod
    def _limits(cls, value: str) -> str:
        """One or more limits in flask-limiter's syntax (``100/minute;5/second``).

        Checked here, at start-up: flask-limiter reads it only once requests come.
        """
        parse_many(value)  # raises ValueError naming what it could not read
        return value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        """Accept any case, as Gunicorn does (LOG_LEVEL=DEBUG); empty means the default."""
        return (value.strip().lower() or "info") if isinstance(value, str) else value

    # Read by gunicorn.conf.py, which terminates TLS.
    TLS_CERT: Path = CERTS_DIR / "server.crt"
    TLS_KEY: Path = CERTS_DIR / "server.key"
    TLS_PROFILE: Literal["intermediate", "modern"] = "intermediate"
    TLS_CLIENT_AUTH: Literal["none", "required"] = "none"
    TLS_CLIENT_CA: Path = CERTS_DIR / "ca.crt"

    @property
    def history_enabled(self) -> bool:
        """Whether this server keeps a prediction history (HISTORY_URL is not HISTORY_OFF)."""
        return url_keeps_history(self.HISTORY_URL)

    @property
    def jobs_embedded(self) -> bool:
        """Whether jobs run on the server's own embedded worker (JOBS_BROKER_URL is empty)."""
        return not self.JOBS_BROKER_URL.strip()

    @property
    def jobs_database_url(self) -> str:
        """Return the job store's URL: JOBS_DATABASE_URL, else the history's, else instance/jobs.db."""
        if self.JOBS_DATABASE_URL.strip():
            return self.JOBS_DATABASE_URL.strip()
        return self.HISTORY_URL if self.history_enabled else f"sqlite:///{INSTANCE_DIR / 'jobs.db'}"

    # Gunicorn's process settings (gunicorn.conf.py), under their historical unprefixed names.
    # All interfaces by default: the server is meant to be reached (in a container, it must be).
    HOST: str = Field("0.0.0.0", validation_alias="HOST")  # noqa: S104
    # 0: any free port, which Gunicorn logs ("Listening at: https://HOST:PORT"); the tests use it.
    PORT: int = Field(5000, ge=0, le=65535, validation_alias="PORT")
    # One worker per core by default: see gunicorn.conf.py for the measurement behind it.
    WORKERS: int = Field(default_factory=multiprocessing.cpu_count, ge=1, validation_alias="WORKERS")
    WORKER_CONNECTIONS: int = Field(1000, ge=2, validation_alias="WORKER_CONNECTIONS")
    # Seconds a request (reading its body included) may take; a slow-body client is cut off.
    REQUEST_TIMEOUT: int = Field(30, ge=1, validation_alias="REQUEST_TIMEOUT")
    ACCESS_LOG: str = Field("-", validation_alias="ACCESS_LOG")
    # Seconds a client may take to complete the TLS handshake (api/server/worker.py).
    TLS_HANDSHAKE_TIMEOUT: float = Field(
        5.0, gt=0, allow_inf_nan=False, validation_alias="TLS_HANDSHAKE_TIMEOUT"
    )
    # OpenSSL's own variable (deploy/openssl.cnf widens the key-exchange groups); read here only to say so.
    OPENSSL_CONF: str | None = Field(None, validation_alias="OPENSSL_CONF")
    # Set by the Gunicorn master for its children, never by the operator: the folder where every
    # worker writes its metrics (api/server/multiproc.py), and the history writer's socket.
    PROMETHEUS_MULTIPROC_DIR: Path | None = Field(None, validation_alias=c.MULTIPROC_ENV)
    HISTORY_WRITER_SOCKET: Path | None = Field(None, validation_alias=c.HISTORY_WRITER_SOCKET)
    # ...and the private folder where workers keep the last set of models they verified (api/web/verified.py).
    VERIFIED_MODELS_DIR: Path | None = None

    @property
    def bind(self) -> str:
        """Return Gunicorn's ``bind``: ``HOST:PORT``."""
        return f"{self.HOST}:{self.PORT}"


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def variable_of(field: str) -> str:
    """Return the environment variable that sets the field ``field``."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"API_{field}"


def load_settings() -> Settings:
    """Return the settings of the environment; SettingsError naming each variable that is wrong.

    Pydantic names a field (MAX_ITEMS); an operator set a variable (API_MAX_ITEMS). The value is not
    repeated: a variable may hold a password (API_HISTORY_URL).
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "?"
            variable = variable_of(name) if name in Settings.model_fields else name
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None


class _HasExtensions(Protocol):
    """A Flask app, as far as settings_of needs one (this module imports no Flask)."""

    extensions: dict[str, Any]


def settings_of(app: _HasExtensions) -> Settings:
    """Return the Settings that create_app gave ``app``."""
    settings: Settings = app.extensions[c.EXT_SETTINGS]
    return settings
