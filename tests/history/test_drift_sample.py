"""The drift sample: a few evenly spaced tweets per request, their unknown-token shares stored per model."""

from datetime import UTC, datetime

import pytest

from api import constants as c
from api.history.messages import FrameError, Record, decode, encode
from api.history.queue import sample_indexes
from tests.history.helpers import db_url, history_app, stored  # noqa: F401 - the shared fixtures


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, [0]),
        (3, [0, 1, 2]),
        (8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (20, [0, 2, 5, 7, 10, 12, 15, 17]),
        (1000, [0, 125, 250, 375, 500, 625, 750, 875]),
    ],
)
def test_the_sample_is_at_most_eight_evenly_spaced_tweets(count, expected):
    assert sample_indexes(count) == expected


def test_each_model_stores_the_unknown_share_of_the_sampled_tweets_only(history_app, auth_header):  # noqa: F811
    app = history_app()
    # Half the tweets made of words no model saw in training: their shares are not all zero.
    tweets = {f"t{i}": "I love this day" if i % 2 else f"zqxv{i} blorf wugs" for i in range(20)}
    response = app.test_client().post("/api/v1/predict?model=all", json=tweets, headers=auth_header)
    assert response.status_code == 200
    rows = stored(app)
    registry = app.extensions[c.EXT_MODEL]
    texts = list(tweets.values())
    for model in ("freqlr", "nblr"):
        unknown = [row["unknown"] for row in rows if row["model"] == model]
        sampled = sample_indexes(len(tweets))
        shares = registry.models[model].unknown_shares([texts[i] for i in sampled])
        assert [unknown[i] for i in sampled] == pytest.approx(shares)
        assert [u for i, u in enumerate(unknown) if i not in sampled] == [None] * (20 - len(sampled))
        assert max(shares) > 0.5 > min(shares)  # made-up words count as unknown, known ones do not


def test_a_one_tweet_request_is_sampled_whole(history_app, auth_header):  # noqa: F811
    app = history_app()
    app.test_client().post("/api/v1/predict", json={"only": "zqxv blorf"}, headers=auth_header)
    assert [row["unknown"] for row in stored(app)] == [1.0]


def record(sampled, unknown):
    """Return a two-tweet record of freqlr with the sample given."""
    scores, versions = {"freqlr": [1.0, -1.0]}, {"freqlr": "v1"}
    return Record(datetime.now(UTC), "alice", ["a", "b"], None, scores, versions, sampled, unknown)


def test_the_sample_crosses_to_the_writer_as_it_was_made():
    sent = [record([1], {"freqlr": [0.25]}), record(None, None)]
    assert decode(encode(sent)[4:]) == sent


@pytest.mark.parametrize(
    ("sampled", "unknown"),
    [
        ([2], {"freqlr": [0.25]}),  # no third tweet
        ([-1], {"freqlr": [0.25]}),
        ([0, 1], {"freqlr": [0.25]}),  # two sampled, one share
        ([0], {"nblr": [0.25]}),  # a model that did not answer
    ],
)
def test_a_frame_whose_sample_does_not_match_its_record_is_refused(sampled, unknown):
    with pytest.raises(FrameError):
        decode(encode([record(sampled, unknown)])[4:])
