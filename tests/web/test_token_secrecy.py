"""What the hashed token lookup protects: no token is kept, only its SHA-256 opens the lookup, and a
lookup is one dictionary access, never a comparison with each stored entry.

A lookup's timing then depends on the SHA-256 of what the client sent, never on how much of a
stored token it matched (README, "Operating it"). These are structural checks, not timings.
"""

import hashlib
import json
import secrets
from collections.abc import Mapping

import pytest

from api.ops.tokens import TokenStore, create_token, hash_token


class NoScan(Mapping):
    """A read-only view of a dict that fails the test if anyone iterates over it."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __contains__(self, key):
        return key in self._data

    def get(self, key, default=None):
        return self._data.get(key, default)

    def __iter__(self):
        raise AssertionError("the token lookup walked the stored entries")

    def __len__(self):
        return len(self._data)


@pytest.fixture
def store_and_tokens(tmp_path):
    """A tokens file of three tokens made by the operator's command; the store reading it, and the tokens."""
    path = tmp_path / "tokens.json"
    made = {name: create_token(path, name) for name in ("alice", "bob", "carol")}
    return TokenStore(path, reload_seconds=3600), made


def test_the_tokens_file_holds_each_tokens_sha256_and_never_the_token(store_and_tokens):
    store, made = store_and_tokens
    text = store.path.read_text()
    entries = json.loads(text)["tokens"]
    for name, token in made.items():
        assert token not in text
        assert token[len("sa_") :] not in text  # nor its random part
        assert entries[name]["sha256"] == hashlib.sha256(token.encode()).hexdigest()


def test_the_worker_keeps_only_hashes_in_memory(store_and_tokens):
    store, made = store_and_tokens
    assert store.lookup(made["alice"]) == "alice"  # loaded
    held = repr(vars(store))
    assert all(token not in held for token in made.values())
    assert set(store._names) == {hash_token(token) for token in made.values()}


def test_the_stored_hash_is_not_a_token(store_and_tokens):
    """A stolen tokens file opens nothing: the lookup hashes what it is given, whatever it is."""
    store, made = store_and_tokens
    for token in made.values():
        digest = hash_token(token)
        assert store.lookup(digest) is None
        assert store.lookup("sa_" + digest) is None


def test_a_wrong_token_sharing_a_prefix_and_length_is_refused(store_and_tokens):
    store, made = store_and_tokens
    token = made["bob"]
    last = token[-1]
    near = [
        token[:-1] + ("A" if last != "A" else "B"),  # one character off, at the end
        token[:10] + secrets.token_urlsafe(64)[: len(token) - 10],  # the same prefix and length
        token.upper() if token.upper() != token else token.lower(),
        token + "=",
        token[:-1],
        " " + token,
    ]
    assert all(len(wrong) >= len(token) - 1 for wrong in near)
    assert [store.lookup(wrong) for wrong in near] == [None] * len(near)
    assert store.lookup(token) == "bob"  # the baseline


def test_a_lookup_is_one_dictionary_access_never_a_walk_over_the_entries(store_and_tokens):
    store, made = store_and_tokens
    assert store.lookup(made["carol"]) == "carol"  # the file is read once; the next lookups only hash
    store._names = NoScan(store._names)
    assert store.lookup(made["carol"]) == "carol"
    assert store.lookup(made["alice"]) == "alice"
    assert store.lookup("sa_" + secrets.token_urlsafe(32)) is None
