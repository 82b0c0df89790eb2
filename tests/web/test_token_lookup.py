"""Finding a presented token: one hash and one dictionary lookup, however many tokens there are, and one
hash per request however many parts of the app ask who the caller is."""

import hmac
import json
import secrets
from unittest import mock

import pytest

from api.ops import tokens as tokenstore
from api.ops.tokens import TokenStore, hash_token

COUNT = 10_000


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A tokens file with COUNT tokens, written at once; returns (path, tokens in file order)."""
    tokens = [f"sa_{secrets.token_urlsafe(32)}" for _ in range(COUNT)]
    entries = {
        f"t{i}": {"sha256": hash_token(token), "created": "2026-01-01T00:00:00+00:00"}
        for i, token in enumerate(tokens)
    }
    path = tmp_path_factory.mktemp("many") / "tokens.json"
    path.write_text(json.dumps({"version": 1, "tokens": entries}))
    return path, tokens


def test_ten_thousand_tokens_look_up_right(many):
    path, tokens = many
    store = TokenStore(path, reload_seconds=0)
    assert store.lookup(tokens[0]) == "t0"
    assert store.lookup(tokens[-1]) == f"t{COUNT - 1}"
    assert store.lookup(tokens[COUNT // 2]) == f"t{COUNT // 2}"
    assert store.lookup("sa_" + secrets.token_urlsafe(32)) is None
    assert store.lookup(hash_token(tokens[0])) is None  # the stored hash is not a token
    assert store.lookup("") is None


def test_a_lookup_hashes_once_and_compares_with_no_stored_entry(many):
    path, tokens = many
    store = TokenStore(path, reload_seconds=3600)
    store.lookup("warm-up")  # the file is read and parsed on the first lookup
    with (
        mock.patch.object(tokenstore, "hash_token", wraps=hash_token) as hashed,
        mock.patch.object(hmac, "compare_digest", wraps=hmac.compare_digest) as compared,
    ):
        assert store.lookup(tokens[-1]) == f"t{COUNT - 1}"
        assert store.lookup("sa_unknown") is None
    assert hashed.call_count == 2
    assert compared.call_count == 0  # a loop over the entries compared each: 10,000 per lookup


@pytest.mark.parametrize("valid", [True, False], ids=["valid token", "wrong token"])
def test_a_request_hashes_its_token_once(client, tokens, valid):
    token = tokens[1] if valid else "sa_wrong"
    with mock.patch.object(tokenstore, "hash_token", wraps=hash_token) as hashed:
        response = client.post(
            "/api/v1/predict", json={"a": "hi"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == (200 if valid else 401)
    assert hashed.call_count == 1


def test_a_remembered_lookup_does_not_outlive_its_request(app, tokens):
    from api.web.auth import token_name_or_none

    with app.test_request_context(headers={"Authorization": f"Bearer {tokens[1]}"}):
        assert token_name_or_none() == "alice"
    with app.test_request_context(headers={"Authorization": "Bearer sa_wrong"}):
        assert token_name_or_none() is None
