"""Properties of generated input: any text gets a label, any valid body an answer, anything else a 400."""

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.settings import Settings
from model.serving import artifacts
from model.serving.text import preprocess

URL = "/api/v1/predict"
LABELS = {"Positive", "Negative"}

# The limits of the default app, the one the ``client`` fixture serves.
MAX_ITEMS = Settings.model_fields["MAX_ITEMS"].default
MAX_KEY_CHARS = Settings.model_fields["MAX_KEY_CHARS"].default
MAX_TWEET_CHARS = Settings.model_fields["MAX_TWEET_CHARS"].default

# Text the API accepts: any Unicode but NUL and lone surrogates, which it refuses by design.
TEXT_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
KEYS = st.text(TEXT_CHARS, min_size=1, max_size=MAX_KEY_CHARS)
TWEETS = st.text(TEXT_CHARS, max_size=MAX_TWEET_CHARS)
VALID_BODIES = st.dictionaries(KEYS, TWEETS, min_size=1, max_size=MAX_ITEMS)

# The app's test client is a function-scoped fixture, reused across examples on purpose: each
# example is one independent request. The fixture's app allows 1000 requests a minute, hence 300.
CLIENT_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def served_model():
    """The committed model, loaded and verified as the server loads it."""
    return artifacts.load()[0]


@given(st.text())
def test_preprocess_gives_a_list_of_str_for_any_text(text):
    tokens = preprocess(text)
    assert isinstance(tokens, list)
    assert all(isinstance(token, str) for token in tokens)


@settings(deadline=None)
@given(st.text())
def test_the_model_labels_any_text_deterministically(served_model, text):
    first = served_model.predict_labels([text])
    assert len(first) == 1 and first[0] in LABELS
    assert served_model.predict_labels([text]) == first


@settings(deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=30))
def test_a_batch_is_labelled_as_each_tweet_alone(served_model, texts):
    assert served_model.predict_labels(texts) == [served_model.predict_labels([t])[0] for t in texts]


def _is_text(value):
    """Return True for a str the API accepts as a key or tweet character-wise."""
    return isinstance(value, str) and not any(ch == "\x00" or "\ud800" <= ch <= "\udfff" for ch in value)


def _is_valid_body(value):
    """Return True if the API must accept ``value`` as a predict body (the rules of api.web.validation)."""
    return (
        isinstance(value, dict)
        and 1 <= len(value) <= MAX_ITEMS
        and all(_is_text(k) and 1 <= len(k) <= MAX_KEY_CHARS for k in value)
        and all(_is_text(v) and len(v) <= MAX_TWEET_CHARS for v in value.values())
    )


# Any JSON value; text includes NUL and lone surrogates, which json.dumps escapes.
ANY_TEXT = st.text(st.characters())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(ANY_TEXT, children, max_size=5),
    max_leaves=20,
)
# Valid bodies with one entry spoilt, so that near misses are tried as often as wild values.
BAD_ENTRIES = st.one_of(
    st.tuples(st.just(""), TWEETS),
    st.tuples(st.text(TEXT_CHARS, min_size=MAX_KEY_CHARS + 1, max_size=MAX_KEY_CHARS + 20), TWEETS),
    st.tuples(KEYS, st.text(TEXT_CHARS, min_size=MAX_TWEET_CHARS + 1, max_size=MAX_TWEET_CHARS + 50)),
    st.tuples(KEYS, st.none() | st.booleans() | st.integers() | st.lists(TWEETS, max_size=2)),
    st.tuples(KEYS, st.dictionaries(KEYS, TWEETS, max_size=2)),
    st.tuples(st.sampled_from(["\x00", "a\x00", "\ud800", "x\udfff"]), TWEETS),
    st.tuples(KEYS, st.sampled_from(["\x00", "tweet\x00", "\ud83d", "\udc00 x"])),
)
SPOILT_BODIES = st.builds(
    lambda body, bad, at: dict([*list(body.items())[:at], bad, *list(body.items())[at:]]),
    st.dictionaries(KEYS, TWEETS, max_size=5),
    BAD_ENTRIES,
    st.integers(0, 5),
)
TOO_MANY = st.integers(MAX_ITEMS + 1, MAX_ITEMS + 50).map(lambda n: {str(i): "x" for i in range(n)})


@CLIENT_SETTINGS
@given(body=VALID_BODIES)
def test_any_valid_body_gets_every_key_back_in_order(client, auth_header, body):
    response = client.post(URL, data=json.dumps(body), content_type="application/json", headers=auth_header)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = json.loads(response.get_data(as_text=True))
    assert list(answer) == list(body)
    assert set(answer.values()) <= LABELS


@CLIENT_SETTINGS
@given(value=st.one_of(JSON_VALUES, SPOILT_BODIES, TOO_MANY))
def test_any_other_json_value_gets_a_json_400(client, auth_header, value):
    assume(not _is_valid_body(value))
    response = client.post(URL, data=json.dumps(value), content_type="application/json", headers=auth_header)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == 400
    assert error["code"] in {"invalid_body", "invalid_item", "too_many_items"}
    assert error["message"]
