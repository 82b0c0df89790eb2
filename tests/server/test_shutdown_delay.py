"""API_SHUTDOWN_DELAY: after SIGTERM a worker fails /readyz while it goes on serving, then stops."""

import signal

import pytest

from api.web import health
from tests.e2e import LABELS, predict, request, running_server, wait_until
from tests.hostile import refused

DELAY_S = 6


@pytest.mark.e2e
def test_a_stopping_server_fails_readyz_but_serves_new_connections_until_the_delay_ends(tmp_path):
    with running_server(tmp_path, env={"API_SHUTDOWN_DELAY": str(DELAY_S)}, workers=1) as server:
        assert request(server.url + "/readyz", server.context)[0] == 200
        server.process.send_signal(signal.SIGTERM)

        def readyz_refuses():
            status, _, body = request(server.url + "/readyz", server.context)
            return status == 503 and "stopping" in body["error"]["message"]

        wait_until(readyz_refuses, "/readyz refusing once the server is stopping")
        # Still listening and serving, on new connections, while a load balancer takes it out.
        assert predict(server)[:2] == (200, LABELS)
        assert not refused(server.port)
        wait_until(lambda: refused(server.port), "the listener closed once the delay is over", DELAY_S + 30)
        server.process.wait(timeout=60)
    assert server.process.returncode == 0


def test_readyz_refuses_once_the_worker_leaves_the_rotation(app, client):
    assert client.get("/readyz").status_code == 200
    health.leave_rotation(app)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "not_ready"
