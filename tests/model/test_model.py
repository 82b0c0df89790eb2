"""Features, the classifier, and its safe serialisation."""

import json
import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from model.errors import ArtifactError
from model.serving.classifier import FrequencyLogisticModel
from model.serving.features import FEATURE_NAMES, FrequencyFeaturizer
from tests.samples import NEGATIVE, POSITIVE


def test_log_ratio_is_smoothed_and_signed():
    docs = [["good", "day"], ["good"], ["bad", "day"]]
    featurizer = FrequencyFeaturizer(alpha=1.0).fit(docs, [1, 1, 0])
    ratios = featurizer.log_ratio_
    assert ratios["good"] > 0 > ratios["bad"]
    # "day" appears once in each class; the ratio reflects the class totals only.
    vocabulary, pos_total, neg_total = 3, 3 + 3, 2 + 3
    assert ratios["day"] == pytest.approx(math.log(neg_total / pos_total))
    assert ratios["good"] == pytest.approx(math.log(3 / 1) + math.log(neg_total / pos_total))
    assert len(ratios) == vocabulary


def test_transform_summarises_known_tokens():
    featurizer = FrequencyFeaturizer().fit([["a"], ["b"]], [1, 0])
    row = featurizer.transform([["a", "b", "unknown"]])[0]
    features = dict(zip(FEATURE_NAMES, row, strict=True))
    ratio_a = featurizer.log_ratio_["a"]
    assert features["ratio_sum"] == pytest.approx(0.0)
    assert features["ratio_max"] == pytest.approx(ratio_a)
    assert features["ratio_min"] == pytest.approx(-ratio_a)
    assert features["log_tokens"] == pytest.approx(math.log(4))
    assert (features["positive_tokens"], features["negative_tokens"]) == (1, 1)


def test_transform_of_unknown_or_empty_tweets_is_finite():
    featurizer = FrequencyFeaturizer().fit([["a"], ["b"]], [1, 0])
    out = featurizer.transform([[], ["zzz"]])
    assert out.shape == (2, len(FEATURE_NAMES))
    assert np.isfinite(out).all()
    assert out[:, 0].tolist() == [0.0, 0.0]


@pytest.fixture(scope="module")
def fitted():
    texts = POSITIVE * 10 + NEGATIVE * 10
    labels = [1] * 30 + [0] * 30
    return FrequencyLogisticModel(alpha=1.0).fit(texts, labels)


def test_model_learns_separable_data(fitted):
    assert fitted.predict_labels(["love it, great day", "hate it, awful day"]) == ["Positive", "Negative"]
    assert fitted.coef_.shape == (len(FEATURE_NAMES),)


def test_probabilities_match_scikit_learn(fitted):
    texts = ["love it", "awful", "meh", ""]
    regression = LogisticRegression()
    regression.classes_ = np.array([0, 1])
    regression.coef_ = fitted.coef_.reshape(1, -1)
    regression.intercept_ = np.array([fitted.intercept_])
    features = fitted.featurizer_.transform(fitted._tokens(texts))
    assert fitted.predict_proba(texts) == pytest.approx(regression.predict_proba(features)[:, 1])


def test_round_trip_through_json_gives_identical_predictions(fitted):
    data = json.loads(json.dumps(fitted.to_dict()))
    restored = FrequencyLogisticModel.from_dict(data)
    texts = ["love it", "awful", "not good at all", "#1 :)"]
    assert restored.predict_proba(texts).tolist() == fitted.predict_proba(texts).tolist()
    assert restored.get_params() == fitted.get_params()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="pickle"), "format"),
        (lambda d: d.update(format_version=99), "format_version"),
        (lambda d: d.update(coef=[1.0]), "coef"),
        (lambda d: d["log_ratio"].update(evil="1"), "finite"),
        (lambda d: d.pop("intercept"), "intercept"),
        (lambda d: d["params"].update(unknown=1), "unknown"),
    ],
)
def test_from_dict_refuses_malformed_models(fitted, change, message):
    data = json.loads(json.dumps(fitted.to_dict()))
    change(data)
    with pytest.raises(ArtifactError, match=message):
        FrequencyLogisticModel.from_dict(data)
