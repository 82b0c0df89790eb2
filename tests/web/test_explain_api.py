"""``POST /api/v1/predict?explain=true``: its declared shape, parts that add up to the scored log-odds,
labels and scores equal to the plain answer's, the parameters it combines with, its charge, odd input."""

import json
import math
from unittest.mock import Mock

import pytest
import time_machine

from api.settings import settings_of
from api.web import extensions as ext
from api.web.explaining import EXPLAIN_COST_FACTORS, explain_factor, explain_models
from api.web.fairness import CPU_TURNS, CpuTurns
from api.web.shapes import TweetLimits, declare
from model.paths import DEFAULT_DATA
from model.serving.base import TweetClassifier
from model.serving.explain import DEFAULT_TOP, explain
from model.serving.labels import sigmoid
from model.training.data import fixed_split, read_rows
from tests.history.helpers import stored
from tests.web import test_endpoints_claims as claims

# The shared fixtures, found by pytest under these names: an app keeping its history in SQLite.
history_url = claims.history_url
history_client = claims.history_client

PREDICT = "/api/v1/predict"
TWEETS = {
    "b": "I love this, what a great day :)",
    "a": "worst service ever, so angry",
    "n": "not bad at all, I don't hate it",
    "c": "Can't wait for the weekend :)",
}
# Input with few or no words a model knows: every one must be answered, never a 500.
ODD = {
    "emoji": "😀😡🎉🔥",
    "blank": "   \t  ",
    "empty": "",
    "punctuation": "!?.,;:-()[]{}" * 21 + "!?.,;:-",
    "urls": "https://example.com/a http://t.co/xyz www.example.org",
    "handles": "@alice @bob #hashtag",
    "markup": '<img src=x onerror="alert(1)"> <b>so</b> happy',
    "combining": "cafe\u0301 n\u0303 ﷺ",
    "rtl": "\u202eevol I\u202c مرحبا שלום",
    "repeated": "love " * 56,
    "control": "a\u0007b\u001bc",
}
NOW = 1_800_000_000


def _post(client, headers, query, body=TWEETS):
    """POST ``body`` to predict with ``query``; return the response."""
    return client.post(f"{PREDICT}{query}", json=body, headers=headers)


def _models(app):
    """Return the names of the app's models."""
    return list(ext.MODEL.of(app).models)


def _explained(answer, app):
    """Return ``[(key, model, {"label", "score", "explanation"})]`` of an explained answer of any model."""
    out = []
    for key, value in answer.items():
        if "explanation" in value:
            out.append((key, None, value))
        else:
            out += [(key, model, value[model]) for model in _models(app)]
    return out


@pytest.mark.parametrize("query", ["?explain=true", "?explain=true&model=all", "?explain=true&model=nblr"])
def test_an_explained_answer_is_of_its_declared_shape_in_the_request_order(app, auth_header, query):
    shapes = declare(TweetLimits.of(settings_of(app)), _models(app))
    response = _post(app.test_client(), auth_header, query)
    assert response.status_code == 200
    answer = response.get_json()
    assert shapes.answers.model_validate(answer).model_dump() == answer
    assert list(answer) == list(TWEETS)
    for _, _, value in _explained(answer, app):
        assert set(value) == {"label", "score", "explanation"}
        assert set(value["explanation"]) == {"log_odds", "words", "top_positive", "top_negative", "rest"}


def test_the_parts_add_up_to_the_log_odds_of_the_score(app, auth_header):
    answer = _post(app.test_client(), auth_header, "?explain=true&model=all").get_json()
    for key, model, value in _explained(answer, app):
        why = value["explanation"]
        parts = math.fsum([*(w["contribution"] for w in why["words"]), *why["rest"].values()])
        assert parts == pytest.approx(why["log_odds"], abs=1e-9), (key, model)
        assert sigmoid(why["log_odds"]) == pytest.approx(value["score"], abs=1e-12), (key, model)


def test_the_top_words_are_the_largest_contributions_each_way(app, auth_header):
    answer = _post(app.test_client(), auth_header, "?explain=true&model=all").get_json()
    for key, model, value in _explained(answer, app):
        why = value["explanation"]
        contributions = [w["contribution"] for w in why["words"]]
        largest = sorted((c for c in contributions if c > 0), reverse=True)[:DEFAULT_TOP]
        smallest = sorted(c for c in contributions if c < 0)[:DEFAULT_TOP]
        assert [w["contribution"] for w in why["top_positive"]] == largest, (key, model)
        assert [w["contribution"] for w in why["top_negative"]] == smallest, (key, model)


def test_the_words_are_found_in_the_tweet_as_written_in_its_order(app, auth_header):
    """What the page relies on to mark them: each word is in the tweet, after the one before it."""
    answer = _post(app.test_client(), auth_header, "?explain=true&model=all").get_json()
    for key, model, value in _explained(answer, app):
        cursor = 0
        for entry in value["explanation"]["words"]:
            found = TWEETS[key].find(entry["word"], cursor)
            assert entry["word"] and found != -1, (key, model, entry)
            cursor = found + len(entry["word"])


@pytest.mark.parametrize("model", ["", "&model=freqlr", "&model=nblr", "&model=all"])
def test_explained_labels_and_scores_equal_the_plain_answers(app, auth_header, model):
    client = app.test_client()
    plain = _post(client, auth_header, f"?detail=true{model}").get_json()
    explained = _post(client, auth_header, f"?explain=true{model}").get_json()
    without = {
        key: (
            {k: v for k, v in value.items() if k != "explanation"}
            if "explanation" in value
            else {m: {k: v for k, v in s.items() if k != "explanation"} for m, s in value.items()}
        )
        for key, value in explained.items()
    }
    assert without == plain


@pytest.mark.parametrize("query", ["", "?detail=true", "?model=all", "?model=all&detail=true&store=false"])
def test_explain_false_leaves_the_answer_byte_for_byte_as_without_it(client, auth_header, query):
    joined = f"{query}&explain=false" if query else "?explain=false"
    assert _post(client, auth_header, joined).data == _post(client, auth_header, query).data


def test_explain_answers_the_same_whatever_detail_says(client, auth_header):
    """An explanation comes with its label and score: ?detail=false does not take the score away."""
    detailed = _post(client, auth_header, "?explain=true&detail=true").get_json()
    assert _post(client, auth_header, "?detail=false&explain=true").get_json() == detailed


def test_explain_combines_with_store_and_model(history_client, auth_header):
    app, client = history_client
    kept_out = _post(client, auth_header, "?explain=true&store=false&model=all", {"x": "do not keep me"})
    assert set(kept_out.get_json()["x"]) == {"freqlr", "nblr"}
    kept = _post(client, auth_header, "?model=nblr&store=true&explain=true", {"k": "keep me, I am fine"})
    assert set(kept.get_json()["k"]) == {"label", "score", "explanation"}
    rows = stored(app)
    assert [(row["tweet_id"], row["model"]) for row in rows] == [("k", "nblr")]
    assert rows[0]["score"] == pytest.approx(kept.get_json()["k"]["score"])


@pytest.mark.parametrize("value", ["yes", "1", "True", "TRUE", "", "true "])
def test_explain_other_than_true_or_false_is_an_invalid_parameter(client, auth_header, value):
    response = client.post(PREDICT, query_string={"explain": value}, json=TWEETS, headers=auth_header)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_parameter"
    assert response.get_json()["error"]["key"] == "explain"
    assert "true or false" in response.get_json()["error"]["message"]


def test_unknown_parameters_name_explain_among_the_accepted_ones(client, auth_header):
    response = _post(client, auth_header, "?explains=true")
    assert response.status_code == 400
    assert "explain" in response.get_json()["error"]["message"].split("accepted: ")[1].split(", ")


@pytest.mark.parametrize(
    ("query", "formats"), [("", ["freqlr"]), ("&model=nblr", ["nblr"]), ("&model=all", ["freqlr", "nblr"])]
)
def test_an_explained_request_is_charged_its_models_factors_times_the_characters(
    make_app, auth_header, query, formats
):
    client = make_app(WORK_LIMIT="10000/minute").test_client()
    body = {"a": "x" * 30, "b": "so happy"}
    with time_machine.travel(NOW, tick=False):
        plain = _post(client, auth_header, f"?store=false{query}", body)
        explained = _post(client, auth_header, f"?explain=true{query}", body)
    assert 10000 - int(plain.headers["X-Work-Remaining"]) == len(formats) * (30 + 8)
    spent = int(plain.headers["X-Work-Remaining"]) - int(explained.headers["X-Work-Remaining"])
    assert spent == (30 + 8) * sum(EXPLAIN_COST_FACTORS[name] for name in formats)


def test_a_model_of_a_format_not_measured_is_charged_the_largest_factor():
    assert explain_factor(Mock(spec=TweetClassifier)) == max(EXPLAIN_COST_FACTORS.values())


def test_an_explanation_past_the_whole_budget_is_refused_before_any_work(make_app, auth_header):
    """A request a plain predict can afford may cost more than a window's budget explained: 413, no charge."""
    client = make_app(WORK_LIMIT="100/minute").test_client()
    body = {"a": "x" * (100 // EXPLAIN_COST_FACTORS["freqlr"] + 1)}
    with time_machine.travel(NOW, tick=False):
        refused = _post(client, auth_header, "?explain=true", body)
        plain = _post(client, auth_header, "", body)
    assert refused.status_code == 413
    assert refused.get_json()["error"]["code"] == "work_too_large"
    # The message counts the cost as it was counted, not as a plain request's.
    assert "(characters x the models' explain factors)" in refused.get_json()["error"]["message"]
    assert plain.status_code == 200
    assert plain.headers["X-Work-Remaining"] == str(100 - len(body["a"]))


def test_explanations_are_computed_in_the_fair_turns_slices(app, auth_header):
    """With slices of no time at all, an explained request gives the CPU up after every chunk it explains."""
    pauses = []
    CPU_TURNS.put(app, CpuTurns(max_in_flight=4, slice_seconds=0.0, pause=lambda: pauses.append(1)))
    client = app.test_client()
    body = {str(i): f"tweet number {i}, a happy one" for i in range(20)}
    assert _post(client, auth_header, "?store=false", body).status_code == 200
    plain = len(pauses)
    assert _post(client, auth_header, "?explain=true&store=false", body).status_code == 200
    # Chunks of no time hold one tweet: one pause per tweet explained, on top of scoring's own.
    assert len(pauses) - plain == plain + len(body)


def test_explaining_in_chunks_gives_what_one_whole_call_gives(app):
    registry = ext.MODEL.of(app)
    texts = [*TWEETS.values(), *ODD.values()]
    calls = []
    chunked = explain_models(registry.models, texts, lambda: calls.append(1), chunk_seconds=0.0)
    for name, model in registry.models.items():
        assert chunked[name] == explain(model, texts)
    assert len(calls) == len(texts) * len(registry.models)


def test_odd_tweets_are_explained_never_a_500(app, auth_header):
    response = _post(app.test_client(), auth_header, "?explain=true&model=all", ODD)
    assert response.status_code == 200, response.data[:300]
    answer = response.get_json()
    for key, model, value in _explained(answer, app):
        why = value["explanation"]
        parts = math.fsum([*(w["contribution"] for w in why["words"]), *why["rest"].values()])
        assert parts == pytest.approx(why["log_odds"], abs=1e-9), (key, model)
        assert all(entry["word"] for entry in why["words"]), (key, model)
    # Strict JSON: no NaN or Infinity reached the answer.
    json.loads(response.data, parse_constant=lambda name: pytest.fail(f"{name} in the answer"))


@pytest.mark.data
def test_every_heldout_tweet_is_explained_through_the_api_as_it_is_scored(make_app, auth_header):
    """Acceptance 3 through the API: for all 2000 held-out tweets and both models, the parts add up to the
    log-odds, and the label and score are the plain answer's."""
    client = make_app(WORK_LIMIT="1000000000/minute").test_client()
    texts = fixed_split(read_rows(DEFAULT_DATA)).test_texts
    for start in range(0, len(texts), 1000):  # API_MAX_ITEMS a request
        body = {str(i): texts[i] for i in range(start, min(start + 1000, len(texts)))}
        plain = _post(client, auth_header, "?model=all&detail=true&store=false", body).get_json()
        explained = _post(client, auth_header, "?model=all&explain=true&store=false", body).get_json()
        for key, models in explained.items():
            for model, value in models.items():
                why = value["explanation"]
                parts = math.fsum([*(w["contribution"] for w in why["words"]), *why["rest"].values()])
                assert abs(parts - why["log_odds"]) <= 1e-9, (key, model)
                assert (value["label"], value["score"]) == tuple(plain[key][model].values()), (key, model)
