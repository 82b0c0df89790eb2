"""The bare reference: a plain Flask app answering a small JSON, on the server's own Gunicorn set-up.

``make bench`` measures our authenticated no-op and 1-tweet predict against it in the same run,
alternating rounds (bench/floor.py): what a request costs beyond Flask, Gunicorn, gevent and TLS
is ours (authentication, limits, metrics, logs, request ids, headers, validation, the model).
Served by ``gunicorn --config python:bench.bare_conf bench.bare:app``.
"""

from flask import Flask

# What it answers: about the size of a small API answer, and nothing computed.
ANSWER = {"status": "ok", "name": "bare", "version": "1"}

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, str]:
    """Answer the small JSON."""
    return ANSWER
