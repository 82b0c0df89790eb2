"""The real thing: Gunicorn with TLS on a loopback port, verified against the generated CA."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.error

import pytest

from api.ops.certs import generate
from model.paths import DEFAULT_DATA
from model.training.data import fixed_split, read_rows
from tests.conftest import ROOT
from tests.e2e import client_context, request, running_server
from tests.web.hostile_helpers import pinned_tls_context

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's own Gunicorn (2 workers, TLS, high limits): its tests only read, none counts
    connections, workers or log lines, so they share it."""
    with running_server(tmp_path_factory.mktemp("e2e")) as running:
        yield running


def _tls_handshake(port, version):
    """Handshake with a client pinned to one TLS version; return the negotiated version."""
    context = pinned_tls_context(version)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, context.wrap_socket(sock) as tls:
        return tls.version()


def test_certificate_verifies_against_the_ca_and_predicts(server):
    status, headers, answer = request(
        server.url + "/api/v1/predict",
        server.context,
        body={"t1": "I love this, what a great day :)", "t2": "worst service ever, so angry"},
        token=server.token,
    )
    assert status == 200
    assert answer == {"t1": "Positive", "t2": "Negative"}
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_client_trusting_another_ca_is_refused(server, tmp_path):
    generate(tmp_path / "other")
    with pytest.raises(urllib.error.URLError) as refused:
        request(server.url + "/healthz", client_context(tmp_path / "other" / "ca.crt"))
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_tls_1_1_is_refused_by_the_server(server):
    with pytest.raises(ssl.SSLError) as refused:
        _tls_handshake(server.port, ssl.TLSVersion.TLSv1_1)
    # The alert comes from the server; a client-side refusal would say NO_PROTOCOLS_AVAILABLE.
    assert refused.value.reason in {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"}
    assert _tls_handshake(server.port, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _tls_handshake(server.port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_auth_and_errors_are_json_over_the_wire(server):
    status, headers, body = request(server.url + "/api/v1/predict", server.context, body={"a": "x"})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert body["error"]["code"] == "unauthorized"
    status, _, body = request(
        server.url + "/api/v1/predict", server.context, body={"a": 1}, token=server.token
    )
    assert (status, body["error"]["key"]) == (400, "a")


@pytest.mark.data
@pytest.mark.parametrize(("query", "floor"), [("", 0.76), ("?model=freqlr", 0.76), ("?model=nblr", 0.77)])
def test_heldout_accuracy_through_the_running_api(server, query, floor):
    split = fixed_split(read_rows(DEFAULT_DATA))
    predicted = {}
    for start in range(0, len(split.test_texts), 1000):
        batch = {str(i): split.test_texts[i] for i in range(start, min(start + 1000, len(split.test_texts)))}
        status, _, answer = request(
            server.url + "/api/v1/predict" + query,
            server.context,
            body=batch,
            token=server.token,
        )
        assert status == 200
        predicted.update(answer)
    correct = sum(
        predicted[str(i)] == ("Positive" if label else "Negative")
        for i, label in enumerate(split.test_labels)
    )
    accuracy = correct / len(split.test_labels)
    print(f"held-out accuracy through the API{query}: {accuracy:.4f} on {len(split.test_labels)} tweets")
    assert accuracy >= floor


@pytest.mark.parametrize("damage", ["alter", "delete"])
def test_gunicorn_refuses_to_start_on_a_bad_artifact(tmp_path, damage):
    artifacts = shutil.copytree(ROOT / "artifacts", tmp_path / "artifacts")
    if damage == "alter":
        with open(artifacts / "freqlr.json", "ab") as handle:
            handle.write(b" ")
    else:
        (artifacts / "freqlr.json").unlink()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "API_ARTIFACTS_DIR": str(artifacts)}
    result = _start_gunicorn(env)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr
    assert str(artifacts / "freqlr.json") in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_refuses_to_start_with_an_unknown_model():
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "API_MODEL": "nope"}
    result = _start_gunicorn(env)
    assert result.returncode != 0
    assert "refusing to start: model 'nope' is not one of freqlr, nblr" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_gunicorn_master_imports_no_scikit_learn():
    """The master loads no model: it checks the artifacts in a child (python -m model check).

    Loading the config imports none of scikit-learn; at start (``on_starting``) the master imports the model
    code, not the models (api/server/preload.py), for the processes it forks to share.
    """
    probe = "import runpy, sys; runpy.run_path('gunicorn.conf.py'); print('sklearn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def _start_gunicorn(env):
    """Run Gunicorn as `make api-start` does, expecting it to refuse to start; return the finished run."""
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
