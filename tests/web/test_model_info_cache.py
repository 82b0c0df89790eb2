"""GET /api/v1/model serialises its body once per model set: the same bytes, and a reload's new set shows."""

import dataclasses

from flask import jsonify

from api.web import extensions as ext


def test_the_model_body_is_the_same_bytes_each_time_and_follows_a_swapped_model_set(make_app, auth_header):
    """Two requests answer jsonify's bytes of the default's info; after a swap, the new set's info."""
    app = make_app()
    client = app.test_client()
    registry = ext.MODEL.of(app)
    served = registry.current()
    first = client.get("/api/v1/model", headers=auth_header)
    second = client.get("/api/v1/model", headers=auth_header)
    with app.app_context():
        expected = jsonify(served.info).get_data()
    assert first.status_code == second.status_code == 200
    assert first.mimetype == "application/json"
    assert first.get_data() == second.get_data() == expected

    other = next(name for name in served.infos if name != served.default)
    registry.swap(dataclasses.replace(served, default=other))
    swapped = client.get("/api/v1/model", headers=auth_header)
    assert swapped.json == dict(served.infos[other])
    assert swapped.json["name"] == other
