"""The README's Logs claims not checked elsewhere: concurrent requests each log under their own id, and
the ids the server makes are uuid4s."""

import logging
import threading
import uuid

from api import jsonlog as logs
from tests.web.test_logging import json_lines  # noqa: F401 - the shared fixture, used by name


def test_concurrent_requests_each_log_under_their_own_id(make_app, json_lines):  # noqa: F811
    app = make_app()
    both_inside = threading.Barrier(2, timeout=10)

    def talk():
        logging.getLogger("api.test").warning("before")
        both_inside.wait()  # the other request has set its id meanwhile
        logging.getLogger("api.test").warning("after")
        return {"ok": True}

    app.add_url_rule("/talk", view_func=talk)
    ids = ["first-request", "second-request"]
    statuses = []

    def call(request_id):
        statuses.append(app.test_client().get("/talk", headers={logs.HEADER: request_id}).status_code)

    threads = [threading.Thread(target=call, args=(request_id,)) for request_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200, 200]
    lines = sorted(
        (line["message"], line["request_id"]) for line in json_lines() if line["logger"] == "api.test"
    )
    assert lines == sorted((message, i) for message in ("before", "after") for i in ids)


def test_an_id_the_server_makes_is_a_uuid4_in_hex(client):
    made = client.get("/healthz").headers[logs.HEADER]
    assert uuid.UUID(hex=made).version == 4 and uuid.UUID(hex=made).hex == made
