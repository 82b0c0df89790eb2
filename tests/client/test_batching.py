"""A long predict is split into requests within the server's limits and the answers merged in order.

Against a real server with small limits (tests/client/conftest.py: MAX_ITEMS keys, MAX_BODY_BYTES a
body), read from its OpenAPI document: no request is refused; and against the stub, what the client
does with a 413 (work too large: halve and go on; one tweet: the answer).
"""

import json
import math
import random

import pytest

from api.client import ClientError
from api.client.batching import Limits, body, encode, next_batch
from tests.client.conftest import MAX_BODY_BYTES, MAX_ITEMS
from tests.client.stub import LABEL, labels, spec
from tests.e2e import BODY, LABELS, access_records, wait_until

TWEETS = 50
SEED = 18


def predict_statuses(server, mark, count):
    """Return the statuses of the predicts the server logged after ``mark``, once ``count`` are logged
    (a worker writes its access line just after its answer)."""

    def logged():
        statuses = [record["status"] for record in access_records(server.log()[mark:], "/api/v1/predict")]
        return statuses if len(statuses) >= count else None

    return wait_until(logged, f"{count} predicts in the access log")


def known(count):
    """Return ``count`` tweets of known labels (tests/e2e.py's two, alternating) and those labels."""
    keys = list(BODY)
    tweets = {f"k{i}": BODY[keys[i % 2]] for i in range(count)}
    return tweets, {key: LABELS[keys[i % 2]] for i, key in enumerate(tweets)}


@pytest.mark.e2e
def test_keys_are_split_at_the_servers_limit_and_merged_in_order(live, live_client):
    tweets, expected = known(TWEETS)
    mark = len(live.log())
    result = live_client.predict(tweets, store=False)
    assert list(result.answers) == list(tweets) and result.answers == expected
    assert result.requests == math.ceil(TWEETS / MAX_ITEMS)
    assert predict_statuses(live, mark, result.requests) == [200] * result.requests


@pytest.mark.e2e
def test_bodies_are_split_at_the_servers_byte_limit(live, live_client):
    # Each tweet ~300 bytes: three to a body of MAX_BODY_BYTES, fewer than MAX_ITEMS.
    tweets = {f"long{i}": ("I love this :) " if i % 2 else "worst service ever ") * 16 for i in range(20)}
    mark = len(live.log())
    result = live_client.predict(tweets, store=False)
    assert list(result.answers) == list(tweets)
    assert [result.answers[key] for key in tweets][:2] == ["Negative", "Positive"]
    # The bytes bind, not the keys.
    assert (
        result.requests >= math.ceil(len(body(encode(tweets))) / MAX_BODY_BYTES) > math.ceil(20 / MAX_ITEMS)
    )
    assert predict_statuses(live, mark, result.requests) == [200] * result.requests


@pytest.mark.e2e
def test_a_list_with_every_option_is_answered_in_order(live, live_client):
    tweets, expected = known(10)
    result = live_client.predict(list(tweets.values()), model="all", detail=True, store=False)
    assert list(result.answers) == [str(i) for i in range(10)]
    assert [answer["freqlr"]["label"] for answer in result.labels()] == list(expected.values())
    assert result.models == ("freqlr", "nblr") and result.requests == math.ceil(10 / MAX_ITEMS)


def test_a_declared_body_limit_is_kept_by_every_request(stub, stub_client):
    tweets = {f"t{i}": "é" * (i * 4) for i in range(30)}
    stub.answers = [(200, {}, spec(100, body_bytes=300)), *[LABEL] * len(tweets)]
    result = stub_client.predict(tweets)
    sent = [request[3] for request in stub.requests[1:]]
    assert list(result.answers) == list(tweets) and result.requests == len(sent) > 1
    assert max(len(body) for body in sent) <= 300
    assert [key for body in sent for key in json.loads(body)] == list(tweets)


def test_one_string_is_not_taken_for_a_list_of_its_characters(stub, stub_client):
    with pytest.raises(ClientError, match="not one string"):
        stub_client.predict("one tweet")
    assert stub.requests == []


def test_the_options_go_into_the_query(stub, stub_client):
    stub.answers = [(200, {}, spec(100)), labels({"0": 1})]
    stub_client.predict(["good"], model="nblr", detail=True, explain=False, store=False)
    assert stub.requests[1][1] == "/api/v1/predict?model=nblr&detail=true&explain=false&store=false"


def test_a_batch_refused_as_too_much_work_is_halved(stub, stub_client):
    tweets = {f"t{i}": "good" for i in range(8)}
    too_much = {"error": {"status": 413, "code": "work_too_large", "message": "split it"}}
    halves = [dict(list(tweets.items())[:4]), dict(list(tweets.items())[4:])]
    stub.answers = [(200, {}, spec(100)), (413, {}, too_much), labels(halves[0]), labels(halves[1])]
    result = stub_client.predict(tweets)
    assert list(result.answers) == list(tweets) and result.requests == 2
    assert [json.loads(request[3]) for request in stub.requests[2:]] == halves


def test_one_tweet_refused_as_too_large_is_the_answer(stub, stub_client):
    too_large = {"error": {"status": 413, "code": "request_entity_too_large", "message": "too large"}}
    stub.answers = [(200, {}, spec(100)), (413, {}, too_large)]
    with pytest.raises(ClientError, match="request_entity_too_large"):
        stub_client.predict({"a": "x" * 5000})
    assert len(stub.requests) == 2


# Each limit binds in one of these: characters, bytes, keys.
LIMITS = [Limits(items=25, body_bytes=2000, chars=900), Limits(items=40, body_bytes=3000), Limits(items=6)]


@pytest.mark.parametrize("limits", LIMITS)
def test_batches_are_the_longest_within_every_limit_in_order(limits):
    rng = random.Random(SEED)
    tweets = {f"id{i}": "é" * rng.randrange(0, 300) for i in range(300)}
    items = encode(tweets)
    start, batches = 0, []
    while start < len(items):
        end = next_batch(items, start, limits)
        batches.append(items[start:end])
        start = end
    assert [item.key for batch in batches for item in batch] == list(tweets)
    for batch, following in zip(batches, [*batches[1:], None], strict=True):
        assert not over(batch, limits)
        assert json.loads(body(batch)) == {item.key: tweets[item.key] for item in batch}
        if following is not None:  # one more would break a limit
            assert over([*batch, following[0]], limits)


def over(batch, limits):
    """Return whether ``batch`` breaks any of ``limits``."""
    return (
        len(batch) > limits.items
        or (limits.body_bytes is not None and len(body(batch)) > limits.body_bytes)
        or (limits.chars is not None and sum(item.chars for item in batch) > limits.chars)
    )
