"""Names of every configuration key; each is also the environment variable that sets it."""

TOKENS_FILE = "API_TOKENS_FILE"
TOKEN_RELOAD_SECONDS = "API_TOKEN_RELOAD_SECONDS"  # noqa: S105 - a key name, not a secret
ARTIFACTS_DIR = "API_ARTIFACTS_DIR"
MODEL_NAME = "API_MODEL"
RATE_LIMIT = "API_RATE_LIMIT"
RATE_LIMIT_STORAGE = "API_RATE_LIMIT_STORAGE"
AUTH_FAILURE_LIMIT = "API_AUTH_FAILURE_LIMIT"
WORK_LIMIT = "API_WORK_LIMIT"
MAX_IN_FLIGHT = "API_MAX_IN_FLIGHT"
MAX_BODY_BYTES = "API_MAX_BODY_BYTES"
MAX_ITEMS = "API_MAX_ITEMS"
MAX_TWEET_CHARS = "API_MAX_TWEET_CHARS"
MAX_KEY_CHARS = "API_MAX_KEY_CHARS"
HISTORY_URL = "API_HISTORY_URL"
HISTORY_TEXT = "API_HISTORY_TEXT"
HISTORY_MAX_ROWS = "API_HISTORY_MAX_ROWS"
HISTORY_MAX_AGE_DAYS = "API_HISTORY_MAX_AGE_DAYS"

# Where create_app keeps its per-app objects (app.extensions[...]).
EXT_MODEL = "sentiment_model"
EXT_TOKENS = "sentiment_tokens"
EXT_LIMIT_STORAGE = "sentiment_limit_storage"
EXT_HISTORY = "sentiment_history"
EXT_METRICS = "sentiment_metrics"
EXT_WORK_BUDGET = "sentiment_work_budget"
EXT_CPU_TURNS = "sentiment_cpu_turns"

# Where the app leaves the request's URL rule in the WSGI environ, for Gunicorn's access log.
ENVIRON_ROUTE = "sentiment.route"

# The history writer process (api/history/writer.py), run by Gunicorn's dirty arbiter (gunicorn.conf.py):
# its dirty app, and the variable by which the master tells it and the workers where its socket is.
HISTORY_WRITER_APP = "api.history.writer:HistoryWriter"
HISTORY_WRITER_SOCKET = "HISTORY_WRITER_SOCKET"

# A metric that both the workers and the history writer count: one name and help for both.
METRIC_HISTORY_FAILURES = (
    "sentiment_history_write_failures",
    "Batches of predictions not stored: the database failed, or the history writer could not take them.",
)
