"""The README's claims about what the Gunicorn server's processes do (Prediction history, Metrics, Logs):
the master migrates the history at start-up and holds no database file, the writer's socket is in a
private folder and the writer stops with the server, the metrics folder is private, logged and removed at
exit, the access log goes to ACCESS_LOG, and requests Gunicorn refuses are logged, never counted.

One server (debug log, access log in a file of its own) is driven and stopped once; each test reads
what was seen.
"""

import contextlib
import http.client
import json
import os
import re
import socket
import stat
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.history import store as history_store
from api.jsonlog import HEADER
from api.ops.tokens import create_token
from tests.e2e import access_records, history_writer_pids, log_records, predict, running_server
from tests.web.metrics_helpers import samples

pytestmark = pytest.mark.e2e

METRICS_DIR = re.compile(r"metrics of all workers in (\S+) \(PROMETHEUS_MULTIPROC_DIR\)")
REFUSED = re.compile(r"request from 127\.0\.0\.1:\d+ refused: (\w+)")
# Gunicorn's own text about a malformed request quotes it; the log must not.
QUOTED = "quoted-by-gunicorn"
HANDSHAKE_FAILED = re.compile(r"TLS handshake with 127\.0\.0\.1:\d+ failed: .+")


def _mode(path):
    """Return the permission bits of ``path``."""
    return stat.S_IMODE(os.stat(path).st_mode)


def _raw(server, data):
    """Send ``data`` on a new TLS connection; return the status and X-Request-ID of Gunicorn's answer."""
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain,
        server.context.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        tls.sendall(data)
        answer = http.client.HTTPResponse(tls)
        answer.begin()
        return answer.status, answer.headers[HEADER]


def _failed_handshake(server):
    """Connect and send bytes that are neither TLS nor HTTP; return once the server has closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain:
        plain.sendall(b"\x00" * 64)
        with contextlib.suppress(ConnectionResetError):
            while plain.recv(4096):  # bounded by the socket's timeout and the server's close
                pass


def _scrape(server, admin):
    """Return the samples of one scrape as ``admin``."""
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {admin}"})
        response = conn.getresponse()
        assert response.status == 200
        return samples(response.read().decode())
    finally:
        conn.close()


def _requests_counted(scraped):
    """Return the total of every request counter."""
    return sum(found for (name, _), found in scraped.items() if name == "sentiment_http_requests_total")


def _open_files(pid):
    """Return what the file descriptors of ``pid`` point at (paths, ``socket:[inode]``, ...)."""
    targets = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while we looked
            targets.append(os.readlink(fd))
    return targets


def _listening_socket(pid):
    """Return the path of the Unix socket ``pid`` has bound (the writer's, from /proc/net/unix)."""
    inodes = {target[len("socket:[") : -1] for target in _open_files(pid) if target.startswith("socket:[")}
    lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    paths = [fields[7] for fields in map(str.split, lines) if len(fields) > 7 and fields[6] in inodes]
    (path,) = [path for path in paths if path.endswith("writer.sock")]
    return Path(path)


def _text(path):
    """Return the text of ``path``, empty if it was never made."""
    return path.read_text() if path.exists() else ""


def _gone(pid):
    """Return True if ``pid`` no longer runs (exited, or a zombie nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _eventually(condition, timeout=30):
    """Poll ``condition`` until it is true; return whether it came true within ``timeout`` seconds (a
    bound for a slow machine, not a speed test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # polling loop with a deadline
    return True


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    """Start, drive and stop one server; return what was seen while it ran and after it stopped."""
    tmp = tmp_path_factory.mktemp("claims")
    database, access_log = tmp / "history.db", tmp / "access.log"
    admin = create_token(tmp / "tokens.json", "root", admin=True)
    env = {"LOG_LEVEL": "debug", "ACCESS_LOG": str(access_log), "API_HISTORY_URL": f"sqlite:///{database}"}
    out = {}
    with running_server(tmp, env=env) as server:
        # Before any prediction: only the start-up migration can have made the schema.
        url = f"sqlite:///{database}"
        engine = sa.create_engine(url)
        out["migrated"] = history_store.schema_is_current(engine, history_store.head_revision(url))
        engine.dispose()
        out["master_files"] = _open_files(server.process.pid)
        assert _eventually(lambda: len(history_writer_pids(server)) == 1), server.log()
        (writer,) = history_writer_pids(server)
        out["socket"] = _listening_socket(writer)
        out["socket_folder_mode"] = _mode(out["socket"].parent)
        out["socket_is_a_socket"] = stat.S_ISSOCK(os.stat(out["socket"]).st_mode)
        (out["metrics_dir"],) = {
            match[1]
            for line in log_records(server.log())
            if (match := METRICS_DIR.fullmatch(line["message"]))
        }
        out["metrics_dir_mode"] = _mode(out["metrics_dir"])

        assert predict(server)[0] == 200
        out["not_found"] = _raw(server, b"GET /api/v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        before = _requests_counted(_scrape(server, admin))
        out["refused"] = [
            _raw(server, f"GET /a?{QUOTED} b HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
            _raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"),
        ]
        _failed_handshake(server)
        # One more than before: the first scrape itself, counted after it answered.
        out["counted_since"] = _requests_counted(_scrape(server, admin)) - before
        # The lines are written just after the answers.
        _eventually(lambda: access_records(_text(access_log), "/api/v1/predict"))
        _eventually(lambda: any(HANDSHAKE_FAILED.fullmatch(r["message"]) for r in log_records(server.log())))
    out["log"] = log_records(server.log())
    out["access"] = access_records(_text(access_log))
    out["returncode"] = server.process.returncode
    out["writer_gone"] = _eventually(lambda: _gone(writer))
    out["metrics_dir_removed"] = _eventually(lambda: not Path(out["metrics_dir"]).exists())
    return out


def test_the_master_migrates_the_history_at_start_up_and_holds_no_database_file(seen):
    assert seen["migrated"] is True
    assert not [path for path in seen["master_files"] if "history.db" in path]


def test_the_writers_socket_is_in_a_private_folder(seen):
    assert seen["socket_is_a_socket"] and seen["socket_folder_mode"] == 0o700


def test_the_writer_stops_with_the_server(seen):
    assert seen["returncode"] == 0 and seen["writer_gone"]
    assert not seen["socket"].parent.exists()


def test_the_metrics_folder_is_private_logged_and_removed_at_exit(seen):
    assert Path(seen["metrics_dir"]).name.startswith("sentiment-api-metrics-")
    assert seen["metrics_dir_mode"] == 0o700 and seen["metrics_dir_removed"]


def test_access_lines_go_to_access_log_and_no_other_line_does(seen):
    assert seen["access"] and all(line["logger"] == "gunicorn.access" for line in seen["access"])
    assert not [line for line in seen["log"] if line["logger"] == "gunicorn.access"]
    assert any(line["logger"] == "gunicorn.error" for line in seen["log"])
    routes = {(line["path"], line["route"]) for line in seen["access"]}
    assert ("/api/v1/predict", "/api/v1/predict") in routes
    assert seen["not_found"][0] == 404 and ("/api/v1/nope", None) in routes


def test_requests_gunicorn_refuses_are_logged_with_their_id_and_never_counted(seen):
    assert [status for status, _ in seen["refused"]] == [400, 431]
    (_, bad_line), (_, too_large) = seen["refused"]
    about = {line["request_id"]: line for line in seen["log"] if line["level"] == "WARNING"}
    kinds = [REFUSED.fullmatch(about[request_id]["message"]) for request_id in (bad_line, too_large)]
    assert [kind[1] for kind in kinds] == ["InvalidHTTPVersion", "LimitRequestHeaders"]
    assert not [line for line in seen["log"] + seen["access"] if QUOTED in json.dumps(line)]
    assert any(
        HANDSHAKE_FAILED.fullmatch(line["message"]) for line in seen["log"] if line["level"] == "DEBUG"
    )
    assert seen["counted_since"] == 1


def test_the_history_writers_lines_are_json_like_the_rest(seen):
    # Every line of both logs parsed as one JSON object (log_records), the writer process's included.
    assert any(line["logger"] == "api.history.writer" for line in seen["log"])
