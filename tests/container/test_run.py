"""The image run as operators run it: read-only root, mounted secrets or none, and a graceful stop."""

import pytest

from api.ops.tokens import revoke_token
from tests.container.docker import context_for, docker, https, owned_by_service, ready, running, tokens_in
from tests.e2e import BODY, LABELS, access_records, wait_until

pytestmark = pytest.mark.container

# Where the start makes certificates and the first token when the root file system is read-only.
FALLBACK = "/tmp/sentiment-api"
HEALTHY_TIMEOUT = 120


def test_with_a_read_only_root_and_only_tmp_writable_the_healthcheck_reaches_healthy(served):
    container = served.container
    assert container.inspect("{{.HostConfig.ReadonlyRootfs}}") == "true"
    # The image's own HEALTHCHECK command, run every 2 s instead of every 30 s.
    wait_until(lambda: container.inspect("{{.State.Health.Status}}") == "healthy", "healthy", HEALTHY_TIMEOUT)
    # Written where the server could write: the history (SQLite by default) under /tmp.
    listed = container.exec("ls", FALLBACK)
    assert "history.db" in listed.split()


def test_every_process_of_the_container_runs_as_uid_10001(served):
    top = docker("top", served.container.name, "-eo", "uid,pid,comm").stdout.splitlines()[1:]
    uids = {line.split()[0] for line in top}
    # The master, its workers and the dirty arbiter (history writer, embedded job worker).
    assert len(top) >= 3, top
    assert uids == {"10001"}, top


def test_an_https_predict_with_mounted_certificates_and_tokens_answers(served):
    # The client trusts only the mounted CA: the server presents the mounted certificate.
    status, answer = https(
        served.container.port, served.context, "POST", "/api/v1/predict", BODY, served.secrets.token
    )
    assert (status, answer) == (200, LABELS)


def test_with_certificates_and_tokens_mounted_nothing_is_made(served):
    _, stderr = served.container.logs()
    assert "first token" not in stderr
    assert "made a private CA" not in stderr
    assert tokens_in(stderr) == []
    made = served.container.exec("ls", "-A", FALLBACK).split()
    assert "certs" not in made and "tokens.json" not in made, made


def test_with_nothing_mounted_the_container_makes_certificates_and_a_token_shown_on_stderr_only(image):
    with running(image, "bare", "--read-only", "--tmpfs", "/tmp") as container:
        (token,) = wait_until(
            lambda: tokens_in(container.logs()[1]), "the first token on stderr", HEALTHY_TIMEOUT
        )
        ca = container.read(f"{FALLBACK}/certs/ca.crt")
        context = context_for(ca)
        ready(container, context)
        status, answer = https(container.port, context, "POST", "/api/v1/predict", BODY, token)
        assert (status, answer) == (200, LABELS)
        # The access line of that predict is on stdout; the token is not, nor anywhere else but once.
        wait_until(
            lambda: access_records(container.logs()[0], "/api/v1/predict"), "the predict's access line"
        )
        stdout, stderr = container.logs()
        assert token not in stdout
        assert stderr.count(token) == 1
        # Made private: the keys and the tokens file 0600, in a 0700 folder.
        modes = container.exec(
            "stat",
            "-c",
            "%a %n",
            FALLBACK,
            f"{FALLBACK}/certs/server.key",
            f"{FALLBACK}/certs/ca.key",
            f"{FALLBACK}/tokens.json",
        ).splitlines()
        assert [line.split()[0] for line in modes] == ["700", "600", "600", "600"], modes


def test_a_token_revoked_on_the_host_is_dropped_once_the_file_is_the_services_again(served):
    port, context, token = served.container.port, served.context, served.secrets.revocable
    assert https(port, context, "POST", "/api/v1/predict", BODY, token)[0] == 200
    tokens = served.secrets.instance / "tokens.json"
    # Revoked by another user than the image's (root here): the new file is that user's, 0600, which
    # the container cannot read, so it keeps the tokens it had and says so.
    revoke_token(tokens, "bob")

    def kept_and_said_so():
        accepted = https(port, context, "POST", "/api/v1/predict", BODY, token)[0] == 200
        return accepted and any("unusable" in line for line in served.container.logs()[1].splitlines())

    wait_until(kept_and_said_so, "the tokens file unusable, the token still accepted", HEALTHY_TIMEOUT)
    # Given back to uid 10001 (the README's chown), the revocation reaches the running workers.
    owned_by_service(tokens)
    wait_until(
        lambda: https(port, context, "POST", "/api/v1/predict", BODY, token)[0] == 401,
        "the token refused",
        30,
    )
    assert https(port, context, "POST", "/api/v1/predict", BODY, served.secrets.token)[0] == 200
