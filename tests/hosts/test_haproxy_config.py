"""The shipped HAProxy configuration: valid for HAProxy itself, with the checks the README describes.

What the checks do to traffic is tested live (test_hosts_failover.py); here, what a live test cannot
tell apart: that the check verifies the hosts' certificate, and the figures the README quotes.
"""

import re
import shutil
import subprocess

import pytest

from api.ops.certs import generate
from tests.conftest import IN_CI
from tests.hosts.cluster import HAPROXY_CONFIG, haproxy_environment

pytestmark = pytest.mark.hosts


def _settings(section):
    """Return the lines of the config's ``section`` ("backend sentiment_api_hosts"), without comments."""
    lines, inside = [], False
    for raw in HAPROXY_CONFIG.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line and not line[0].isspace():
            inside = line == section
        elif inside and line:
            lines.append(line.strip())
    return lines


def test_haproxy_accepts_the_shipped_file_with_its_variables(tmp_path):
    if not shutil.which("haproxy"):
        if IN_CI:
            pytest.fail("haproxy not installed (make test installs it)")
        pytest.skip("haproxy not installed (make test installs it)")
    ca = generate(tmp_path / "certs")["ca_cert"]  # -c loads it
    servers = ["10.231.0.2:5000", "10.231.0.6:5000"]  # only parsed: -c connects to nothing
    env = haproxy_environment(servers, "127.0.0.1:1", ca, tmp_path / "admin.sock")
    done = subprocess.run(
        ["haproxy", "-c", "-f", str(HAPROXY_CONFIG)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_checks_verify_the_hosts_and_have_the_documented_timing():
    backend = _settings("backend sentiment_api_hosts")
    defaults = _settings("defaults")
    check = next(line for line in backend if line.startswith("default-server"))
    words = check.split()
    assert {"check", "check-ssl"} <= set(words)
    assert re.search(r"\bverify required ca-file \S+ verifyhost \S+", check)
    assert re.search(r"\binter 2s fastinter 500ms downinter 1s fall 3 rise 2\b", check)
    assert 'http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host "${SENTIMENT_API_NAME}"' in backend
    assert "http-check expect status 200" in backend
    assert "balance leastconn" in backend
    assert {"mode tcp", "retries 3", "option redispatch 1"} <= set(defaults)
    # A host marked down because it is stopping finishes its requests: nothing cuts them.
    assert not any("shutdown-sessions" in line for line in backend + defaults)
