"""Every path the client calls is one the server's OpenAPI document declares, with the method used."""

from api.client import client

CALLS = [
    (client.PREDICT, "post"),
    (client.PREDICTIONS, "get"),
    (client.FEEDBACK, "post"),
    (client.FEEDBACK, "get"),
    (client.MODELS, "get"),
    (client.MODEL, "get"),
    (client.OPENAPI, "get"),
]


def test_the_clients_paths_are_the_servers(app):
    paths = app.test_client().get(client.OPENAPI).get_json()["paths"]
    assert [(path, method) for path, method in CALLS if method not in paths.get(path, {})] == []
