"""Prediction history: the listing (per-token visibility, admin tokens, parameters), history off, the CLI."""

import pytest
import sqlalchemy as sa

from api.ops.tokens import create_token
from tests.history import helpers as history_helpers
from tests.history.helpers import post, stored

# The shared fixtures, found by pytest under these names (history_app needs db_url).
db_url = history_helpers.db_url
history_app = history_helpers.history_app


def test_a_caller_sees_only_its_own_rows_and_an_admin_token_sees_all(history_app, tokens):
    path = tokens[0]
    bob = create_token(path, "bob")
    root = create_token(path, "root", admin=True)
    app = history_app()
    client = app.test_client()
    headers = {
        name: {"Authorization": f"Bearer {tok}"}
        for name, tok in (("alice", tokens[1]), ("bob", bob), ("root", root))
    }
    post(client, headers["alice"], body={"a1": "good"})
    post(client, headers["bob"], body={"b1": "bad", "b2": "good"})
    stored(app)

    def listed(name, query=""):
        response = client.get(f"/api/v1/predictions{query}", headers=headers[name])
        assert response.status_code == 200
        return [(row["token"], row["id"]) for row in response.json["predictions"]]

    assert listed("alice") == [("alice", "a1")]
    assert listed("bob") == [("bob", "b2"), ("bob", "b1")]  # newest first
    assert listed("root") == [("bob", "b2"), ("bob", "b1"), ("alice", "a1")]
    assert listed("root", "?limit=1") == [("bob", "b2")]
    assert listed("root", "?limit=1000") == listed("root")


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=%EF%BC%95", "limit"),
        ("?offset=3", "offset"),
    ],
)
def test_a_bad_limit_or_parameter_is_a_400_naming_it(make_app, auth_header, tmp_path, query, key):
    client = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}").test_client()
    response = client.get(f"/api/v1/predictions{query}", headers=auth_header)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert response.json["error"]["key"] == key


def test_store_must_be_true_or_false(client, auth_header):
    response = post(client, auth_header, "?store=no")
    assert response.status_code == 400
    assert (response.json["error"]["code"], response.json["error"]["key"]) == ("invalid_parameter", "store")


def test_listing_needs_a_token(make_app, tmp_path):
    client = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}").test_client()
    assert client.get("/api/v1/predictions").status_code == 401


def test_with_history_off_predictions_are_served_and_the_listing_says_so(client, auth_header):
    assert post(client, auth_header).status_code == 200
    response = client.get("/api/v1/predictions", headers=auth_header)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "history_disabled"
    assert client.get("/readyz").json["history"]["enabled"] is False


def test_admin_flag_in_the_tokens_file(tmp_path):
    from api.ops.tokens import TokenStore

    path = tmp_path / "tokens.json"
    # A file written before the flag existed: no "admin" key at all.
    path.write_text(
        '{"version": 1, "tokens": {"old": {"sha256": "'
        + "0" * 64
        + '", "created": "2026-01-01T00:00:00+00:00"}}}'
    )
    create_token(path, "boss", admin=True)
    store = TokenStore(path, reload_seconds=0)
    assert (store.is_admin("old"), store.is_admin("boss"), store.is_admin("nobody")) == (False, True, False)


def test_the_command_line_creates_admin_tokens_and_migrates(tmp_path, monkeypatch, capsys):
    from api.__main__ import main
    from api.ops.tokens import TokenStore

    path = tmp_path / "tokens.json"
    assert main(["token", "--file", str(path), "create", "boss", "--admin"]) == 0
    assert main(["token", "--file", str(path), "create", "pleb"]) == 0
    store = TokenStore(path, reload_seconds=0)
    assert (store.is_admin("boss"), store.is_admin("pleb")) == (True, False)

    url = f"sqlite:///{tmp_path / 'h.db'}"
    monkeypatch.setenv("API_HISTORY_URL", url)
    assert main(["history", "migrate"]) == 0
    engine = sa.create_engine(url)
    assert sa.inspect(engine).has_table("predictions")
    engine.dispose()
    monkeypatch.setenv("API_HISTORY_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert main(["history", "migrate"]) == 1
    assert "history migration failed" in capsys.readouterr().err
