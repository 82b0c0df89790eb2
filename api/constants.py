"""Names shared between modules: where the app keeps its objects, the writer's wiring, shared metrics.

Settings' own names are their fields (api/settings.py), never restated here.
"""

# Where create_app keeps its per-app objects (app.extensions[...]).
EXT_SETTINGS = "sentiment_settings"
EXT_MODEL = "sentiment_model"
EXT_TOKENS = "sentiment_tokens"
EXT_LIMIT_STORAGE = "sentiment_limit_storage"
EXT_HISTORY = "sentiment_history"
EXT_METRICS = "sentiment_metrics"
EXT_WORK_BUDGET = "sentiment_work_budget"
EXT_CPU_TURNS = "sentiment_cpu_turns"
EXT_OPENAPI = "sentiment_openapi"
EXT_JOBS = "sentiment_jobs"

# The longest request line (method, path, query, version) Gunicorn reads, in bytes: gunicorn.conf.py sets
# it, and the OpenAPI document states it (a longer line is answered 414 before the app runs).
REQUEST_LINE_LIMIT = 4094

# prometheus_client's multiprocess folder: the master makes it (api/server/multiproc.py), the workers
# write their metrics there, and the app sums them when it sees the variable (api/web/metrics.py).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Where the app leaves the request's URL rule in the WSGI environ, for Gunicorn's access log.
ENVIRON_ROUTE = "sentiment.route"
# ...and its request id (api/security.py), which the access log prefers to looking through the headers.
ENVIRON_REQUEST_ID = "sentiment.request_id"

# The history writer process (api/history/writer.py), run by Gunicorn's dirty arbiter (gunicorn.conf.py):
# its dirty app, and the variable by which the master tells it and the workers where its socket is.
HISTORY_WRITER_APP = "api.history.writer:HistoryWriter"
HISTORY_WRITER_SOCKET = "HISTORY_WRITER_SOCKET"
# The exit status of `python -m api history migrate` when API_HISTORY_URL cannot work at all (a driver
# that is not installed, a malformed URL): the master then refuses to start, where a database that is
# down only delays the migration.
MIGRATE_UNUSABLE_URL = 3

# A metric that both the workers and the history writer count: one name and help for both.
METRIC_HISTORY_FAILURES = (
    "sentiment_history_write_failures",
    "Batches of predictions not stored: the database failed, or the history writer could not take them.",
)
