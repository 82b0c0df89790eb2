"""Starting and talking to real servers: a free port, readiness polling, HTTPS with a given CA."""

import json
import socket
import ssl
import time
import urllib.error
import urllib.request


def free_port():
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_context(cafile):
    """An HTTPS client context that verifies the server against ``cafile``."""
    return ssl.create_default_context(cafile=str(cafile))


def request(url, context, body=None, token=None, method=None):
    """Send one HTTPS request; return (status, headers, parsed JSON body)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def wait_ready(url, context, process, log_path, timeout=60):
    """Poll ``url``/readyz until it answers 200; fail with the server log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if request(url + "/readyz", context)[0] == 200:
                return
        except (OSError, ssl.SSLError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"server not ready after {timeout}s:\n{log_path.read_text()}")
