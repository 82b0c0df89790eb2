"""The tokens file to the letter: its checks and their messages, its canonical bytes, the reload interval
and what a store logs. Each test kills mutants of api/ops/tokens.py that the behaviour tests let live
(`make mutate`)."""

import hashlib
import json
import logging
import re
from datetime import datetime
from types import SimpleNamespace

import pytest

from api.ops import tokens as tokenstore
from api.ops.tokens import (
    TokenFileError,
    TokenStore,
    create_token,
    hash_token,
    list_tokens,
    parse_admins,
    parse_tokens,
    revoke_token,
)

DIGEST = "a" * 64
UNVERSIONED = "expected an object with version 1"


def _file(tokens, version=1):
    """Return the bytes of a tokens file holding ``tokens``."""
    return json.dumps({"version": version, "tokens": tokens}).encode()


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """The token store's clock, frozen until a test moves it."""
    fake = Clock()
    monkeypatch.setattr(tokenstore, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def test_a_token_is_the_sha256_of_its_utf8_and_a_lone_surrogate_hashes_too():
    assert hash_token("sa_é") == hashlib.sha256("sa_é".encode()).hexdigest()
    # Not a UTF-8 string: hashed as its surrogate bytes rather than raising in the lookup.
    assert hash_token("sa_\ud800") == hashlib.sha256(b"sa_\xed\xa0\x80").hexdigest()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", "not valid JSON: "),
        (b"[]", "expected an object with version 1"),
        (_file({}, version=2), "expected an object with version 1"),
        (json.dumps({"tokens": {}}).encode(), "expected an object with version 1"),
        (json.dumps({"version": 1}).encode(), '"tokens" must be an object'),
        (_file([]), '"tokens" must be an object'),
        (_file({"a": "x"}), "token 'a' has no valid sha256"),
        (_file({"a": {}}), "token 'a' has no valid sha256"),
        (_file({"a": {"sha256": DIGEST.upper()}}), "token 'a' has no valid sha256"),
        (_file({"a": {"sha256": DIGEST + "a"}}), "token 'a' has no valid sha256"),
        (_file({"a": {"sha256": DIGEST, "admin": "yes"}}), "token 'a' has a non-boolean admin flag"),
    ],
)
def test_a_tokens_file_of_the_wrong_shape_is_refused_with_its_reason(payload, message):
    with pytest.raises(TokenFileError, match="^" + re.escape(message)):
        parse_tokens(payload)


def test_admins_are_the_entries_whose_flag_is_true():
    payload = _file(
        {
            "root": {"sha256": DIGEST, "admin": True},
            "plain": {"sha256": DIGEST, "admin": False},
            "older": {"sha256": DIGEST},
        }
    )
    assert parse_tokens(payload) == {"root": DIGEST, "plain": DIGEST, "older": DIGEST}
    assert parse_admins(payload) == {"root"}


def test_the_file_is_rewritten_canonically_sorted_indented_and_ending_in_a_newline(tmp_path):
    path = tmp_path / "tokens.json"
    create_token(path, "zed")
    create_token(path, "amy", admin=True)
    data = json.loads(path.read_text())
    assert path.read_text() == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert list(data["tokens"]) == ["amy", "zed"]
    assert not path.with_name("tokens.json.tmp").exists()
    assert path.with_name("tokens.json.lock").exists()


def test_a_new_token_has_256_random_bits_a_whole_second_and_its_flag(tmp_path):
    path = tmp_path / "tokens.json"
    token = create_token(path, "amy", admin=True)
    assert re.fullmatch(r"sa_[A-Za-z0-9_-]{43}", token)
    entry = json.loads(path.read_text())["tokens"]["amy"]
    assert entry["admin"] is True
    created = datetime.fromisoformat(entry["created"])
    assert created.microsecond == 0 and created.utcoffset().total_seconds() == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", entry["created"])
    assert json.loads(path.read_text())["tokens"]["amy"] == entry
    create_token(path, "bob")
    assert json.loads(path.read_text())["tokens"]["bob"]["admin"] is False


def test_an_invalid_name_is_refused_before_the_file_is_touched(tmp_path):
    path = tmp_path / "tokens.json"
    with pytest.raises(ValueError, match=r"^invalid token name 'a b': use 1-64 of A-Z a-z 0-9 _ \. -$"):
        create_token(path, "a b")
    assert not path.exists()


def test_revoking_says_whether_the_token_existed_and_keeps_the_others(tmp_path):
    path = tmp_path / "tokens.json"
    kept = create_token(path, "amy")
    create_token(path, "bob")
    assert revoke_token(path, "bob") is True
    assert revoke_token(path, "bob") is False
    assert TokenStore(path, reload_seconds=0).lookup(kept) == "amy"


def test_listing_is_sorted_and_an_entry_without_a_date_lists_an_empty_one(tmp_path):
    path = tmp_path / "tokens.json"
    assert list_tokens(path) == []
    path.write_bytes(_file({"zed": {"sha256": DIGEST, "created": "2026-01-01"}, "amy": {"sha256": DIGEST}}))
    assert list_tokens(path) == [("amy", ""), ("zed", "2026-01-01")]
    path.write_bytes(b"[]")
    with pytest.raises(TokenFileError):
        list_tokens(path)


def test_a_revocation_reaches_a_store_once_its_interval_is_over(tmp_path, clock):
    path = tmp_path / "tokens.json"
    token = create_token(path, "amy")
    store = TokenStore(path)
    assert store.reload_seconds == 1.0
    assert store.lookup(token) == "amy"
    revoke_token(path, "amy")
    clock.now = 1000.999
    assert store.lookup(token) == "amy"  # not looked at again within the interval
    clock.now = 1001.0
    assert store.lookup(token) is None  # exactly one interval later, it is


def test_a_store_reads_a_changed_file_and_only_a_changed_one(tmp_path, clock, monkeypatch):
    path = tmp_path / "tokens.json"
    first = create_token(path, "amy")
    store = TokenStore(path, reload_seconds=0)
    assert store.lookup(first) == "amy"
    reads = []  # parse_admins: the store's own reads only (create_token parses the file too)
    monkeypatch.setattr(tokenstore, "parse_admins", lambda payload: reads.append(1) or parse_admins(payload))
    assert store.lookup(first) == "amy"
    assert reads == []  # same inode, mtime and size: not read again
    second = create_token(path, "bob", admin=True)
    assert store.lookup(second) == "bob" and store.is_admin("bob") and not store.is_admin("amy")
    assert reads == [1]


def test_a_missing_file_is_warned_about_once_and_an_unusable_one_keeps_the_last_set(tmp_path, clock, caplog):
    path = tmp_path / "tokens.json"
    store = TokenStore(path, reload_seconds=0)
    with caplog.at_level(logging.WARNING, logger=tokenstore.log.name):
        assert store.lookup("sa_x") is None
        assert len(caplog.records) == 1  # on the first look, not the second
        assert store.lookup("sa_x") is None
        token = create_token(path, "amy", admin=True)
        assert store.lookup(token) == "amy"
        path.write_text("[]")
        assert store.lookup(token) == "amy" and store.is_admin("amy")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"tokens file {path} does not exist: no token is valid"),
        ("ERROR", f"tokens file {path} unusable, keeping the previous 1 token(s): {UNVERSIONED}"),
    ]
    path.unlink()
    assert store.lookup(token) is None and not store.is_admin("amy")


def test_a_file_unusable_from_the_start_means_no_token_and_no_admin(tmp_path, caplog):
    path = tmp_path / "tokens.json"
    path.write_text("[]")
    store = TokenStore(path, reload_seconds=0)
    with caplog.at_level(logging.ERROR, logger=tokenstore.log.name):
        assert store.lookup("sa_x") is None and not store.is_admin("amy")
    assert caplog.records[0].getMessage() == (
        f"tokens file {path} unusable, keeping the previous 0 token(s): {UNVERSIONED}"
    )
