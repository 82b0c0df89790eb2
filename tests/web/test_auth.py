"""Bearer-token authentication: missing, malformed, wrong and revoked tokens."""

import json
import os

import pytest

from api.__main__ import main as api_cli
from api.ops.tokens import create_token, hash_token, revoke_token

BODY = {"a": "hello"}


def _predict(client, headers):
    return client.post("/api/v1/predict", json=BODY, headers=headers)


def test_valid_token_is_accepted(client, auth_header):
    response = _predict(client, auth_header)
    assert response.status_code == 200
    assert set(response.get_json()) == {"a"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Token sa_abc"},
        {"Authorization": "Bearer sa_wrong"},
        {"Authorization": "Bearer sa_wrong extra"},
        {"X-Api-Key": "sa_wrong"},
    ],
)
def test_missing_malformed_or_wrong_tokens_get_json_401(client, headers):
    response = _predict(client, headers)
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_in_query_string_is_not_accepted(client, tokens):
    response = client.post(f"/api/v1/predict?token={tokens[1]}", json=BODY)
    assert response.status_code == 401


def test_revocation_takes_effect_without_restart(client, tokens, auth_header):
    assert _predict(client, auth_header).status_code == 200
    assert revoke_token(tokens[0], "alice")
    assert _predict(client, auth_header).status_code == 401


def test_new_token_works_without_restart(client, tokens):
    token = create_token(tokens[0], "bob")
    assert _predict(client, {"Authorization": f"Bearer {token}"}).status_code == 200


def test_model_endpoint_needs_a_token(client, auth_header):
    assert client.get("/api/v1/model").status_code == 401
    info = client.get("/api/v1/model", headers=auth_header).get_json()
    assert info["name"] == "freqlr"
    assert info["version"].startswith("v3-")
    assert 0.5 < info["metrics"]["accuracy"] <= 1


def test_token_file_stores_only_hashes_with_private_mode(tokens):
    path, token = tokens
    text = path.read_text()
    assert token not in text
    assert hash_token(token) in text
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_corrupt_token_file_keeps_the_last_good_set(client, tokens, auth_header, caplog):
    assert _predict(client, auth_header).status_code == 200
    tokens[0].write_text("{not json")
    assert _predict(client, auth_header).status_code == 200
    assert "unusable, keeping the previous 1 token(s)" in caplog.text


def test_missing_token_file_means_no_valid_token(client, tokens, auth_header):
    tokens[0].unlink()
    assert _predict(client, auth_header).status_code == 401


def test_cli_creates_lists_and_revokes(tmp_path, capsys):
    path = tmp_path / "t.json"
    assert api_cli(["token", "--file", str(path), "create", "carol"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("sa_") and len(token) > 40
    assert json.loads(path.read_text())["tokens"]["carol"]["sha256"] == hash_token(token)
    assert api_cli(["token", "--file", str(path), "list"]) == 0
    assert capsys.readouterr().out.startswith("carol\t")
    assert api_cli(["token", "--file", str(path), "revoke", "carol"]) == 0
    assert api_cli(["token", "--file", str(path), "revoke", "carol"]) == 1
    assert api_cli(["token", "--file", str(path), "create", "bad name!"]) == 1
