"""A scripted HTTPS server on 127.0.0.1 for the client's tests: it answers each request from a script
and records what came, so that what the client sends, and how often, can be checked exactly.

A script entry is ``(status, headers, body)``; DROP: read the request, then close the connection
without a word (a server that vanished after the request was sent); or LABEL: answer a predict of
whatever keys it holds, each Positive.
"""

import json
import ssl
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DROP, LABEL = "drop", "label"


class Stub(ThreadingHTTPServer):
    """An HTTPS server answering from ``answers`` and recording ``requests`` (method, path, headers, body)."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers = []
        self.requests = []

    @property
    def url(self):
        """The base URL a client reaches this stub at (the certificate's name for it)."""
        return f"https://localhost:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    """Record the request, body included, then play the next scripted answer."""

    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        answer = self.server.answers.pop(0)
        if answer == DROP:
            self.close_connection = True
            self.connection.close()
            return
        status, headers, payload = labels(json.loads(body)) if answer == LABEL else answer
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Length": str(len(data)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        """Keep the test output quiet."""


@contextmanager
def running_stub(certs):
    """Run a Stub with the server certificate of ``certs`` (made by api.ops.certs.generate)."""
    server = Stub()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "server.crt", certs / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def spec(max_items, body_bytes=None):
    """Return an OpenAPI document declaring predict's limits as the server's does (api/web/openapi.py)."""
    request_body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tweets"}}}}
    if body_bytes is not None:
        request_body["x-max-body-bytes"] = body_bytes
    return {
        "paths": {"/api/v1/predict": {"post": {"requestBody": request_body}}},
        "components": {"schemas": {"Tweets": {"type": "object", "maxProperties": max_items}}},
    }


def labels(batch):
    """Return the answer the API gives to a predict of ``batch`` (every tweet Positive)."""
    return (200, {"X-Model": "freqlr", "X-Model-Version": "v1"}, dict.fromkeys(batch, "Positive"))
