"""Feedback, live accuracy and drift through the real Gunicorn: TLS, two workers, the history writer."""

import json
import random
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.ops.tokens import create_token
from model.paths import DEFAULT_DATA
from model.serving import drift
from model.serving.artifacts import DEFAULT_DIR
from model.serving.labels import sigmoid
from model.serving.registry import ModelRegistry
from model.training.data import fixed_split, read_rows
from tests.e2e import request, running_server, wait_until
from tests.history.feedback_helpers import mixed_tweets, positive_tweets
from tests.history.helpers import db_url  # noqa: F401 - the shared fixture, used by name

PREDICTIONS, LABELLED, WRONG = 200, 100, 30
# The drift test's window: its unshifted and its shifted halves each fill it.
DRIFT_WINDOW = 400
# Waits for what the server does asynchronously (the history's writes, the monitor's 5 s cache); a
# deadline for a busy machine, not a speed requirement.
SETTLE_S = 60


def scrape(server, token):
    """Return {(series, model): value} of the monitor's gauges in /metrics."""
    req = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=server.context, timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, sample.labels["model"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith(("sentiment_live", "sentiment_drift"))
        for sample in family.samples
    }


def post(server, path, body, token):
    """POST ``body`` as JSON; return (status, parsed answer)."""
    status, _, answer = request(f"{server.url}{path}", server.context, body=body, token=token)
    return status, answer


def send(server, tweets, per_request):
    """Predict ``tweets`` in requests of ``per_request``, eight at a time; return their answers (detail)."""
    keys = list(tweets)
    parts = [{k: tweets[k] for k in keys[i : i + per_request]} for i in range(0, len(keys), per_request)]
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda part: post(server, "/api/v1/predict?detail=true", part, server.token), parts)
        )
    assert {status for status, _ in results} == {200}
    return {key: detail for _, answer in results for key, detail in answer.items()}


@pytest.mark.e2e
def test_live_accuracy_in_metrics_is_the_share_of_right_answers_among_the_feedback(tmp_path, db_url):  # noqa: F811
    with running_server(tmp_path, env={"API_HISTORY_URL": db_url}, workers=2) as server:
        ops = create_token(server.tokens_file, "ops", admin=True)
        other = create_token(server.tokens_file, "other")
        answers = send(server, mixed_tweets(PREDICTIONS), per_request=1)  # 200 predictions
        flip = {"Positive": "Negative", "Negative": "Positive"}
        labelled = list(answers)[:LABELLED]
        # A known mix: the model's own label for 70 of them, the other label for 30.
        truth = {
            key: flip[answers[key]["label"]] if i < WRONG else answers[key]["label"]
            for i, key in enumerate(labelled)
        }
        expected = sum(truth[key] == answers[key]["label"] for key in labelled) / LABELLED
        assert expected == (LABELLED - WRONG) / LABELLED

        # Another token's ids are refused, named, before and after the history has them.
        stranger = {labelled[5]: "Positive"}
        assert post(server, "/api/v1/feedback", stranger, other)[0] == 404
        # The history is written asynchronously: the feedback is retried until every row is there.
        sent = wait_until(
            lambda: (reply := post(server, "/api/v1/feedback", truth, server.token))[0] == 200 and reply,
            "the feedback accepted once the history holds the predictions",
            timeout=SETTLE_S,
        )
        assert sent[1] == {"recorded": LABELLED}
        status, refused = post(server, "/api/v1/feedback", stranger, other)
        assert (status, refused["error"]["code"], refused["error"]["key"]) == (
            404,
            "unknown_prediction",
            labelled[5],
        )

        gauges = wait_until(
            lambda: (
                (found := scrape(server, ops)).get(("sentiment_live_feedback", "freqlr")) == LABELLED
                and found
            ),
            "sentiment_live_feedback reaching 100 in /metrics",
            timeout=SETTLE_S,
        )
        assert gauges[("sentiment_live_accuracy", "freqlr")] == expected
        # Any token reads it too; each worker keeps its read a few seconds, so the answer may lag.
        live = wait_until(
            lambda: (
                (answer := request(f"{server.url}/api/v1/feedback", server.context, token=other)[2])["models"]
                and answer["models"]
            ),
            "the live accuracy in /api/v1/feedback",
            timeout=SETTLE_S,
        )
        freqlr = next(row for row in live if row["model"] == "freqlr")
        assert (freqlr["accuracy"], freqlr["feedback"]) == (expected, LABELLED)


def held_out_sample(count):
    """Return ``count`` held-out tweets by id, a fixed random draw from the fixed split's held-out part."""
    texts = random.Random(16).sample(fixed_split(read_rows(DEFAULT_DATA)).test_texts, count)
    return {f"h{i}": text for i, text in enumerate(texts)}


def artifacts_of_record(folder):
    """Copy the shipped artifacts to ``folder``; an entry without a reference gets the held-out split's.

    Training writes each entry's reference from the held-out split (drift.reference); artifacts made
    before that have none, and the server would report no drift for them: this one is made the same way.
    """
    shutil.copytree(DEFAULT_DIR, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    if all("reference" in entry for entry in manifest["models"].values()):
        return folder
    registry, texts = ModelRegistry().load(DEFAULT_DIR), fixed_split(read_rows(DEFAULT_DATA)).test_texts
    for name, entry in manifest["models"].items():
        model = registry.models[name]
        probabilities = [sigmoid(score) for score in model.log_odds(texts)]
        entry.setdefault("reference", drift.reference(probabilities, model.unknown_shares(texts)))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.e2e
@pytest.mark.data
def test_a_shifted_distribution_crosses_the_psi_alert_and_a_held_out_one_stays_below(tmp_path):
    env = {
        "API_ARTIFACTS_DIR": str(artifacts_of_record(tmp_path / "artifacts")),
        "API_DRIFT_WINDOW": str(DRIFT_WINDOW),
    }
    with running_server(tmp_path, env=env, workers=2) as server:
        ops = create_token(server.tokens_file, "ops", admin=True)
        send(server, held_out_sample(DRIFT_WINDOW), per_request=10)

        def window_full():
            found = scrape(server, ops)
            return found.get(("sentiment_drift_window_rows", "freqlr")) == DRIFT_WINDOW and found

        calm = wait_until(window_full, "the held-out sample filling the drift window", timeout=SETTLE_S)
        print(f"held-out sample: PSI {calm[('sentiment_drift_psi', 'freqlr')]:.4f}")
        assert calm[("sentiment_drift_psi", "freqlr")] < drift.PSI_WARNING
        share, reference = (calm[(f"sentiment_drift_{s}unknown_share", "freqlr")] for s in ("", "reference_"))
        assert share - reference < drift.UNKNOWN_SHARE_ALERT

        send(server, positive_tweets(DRIFT_WINDOW), per_request=10)

        def alerted():
            found = scrape(server, ops)
            return found.get(("sentiment_drift_psi", "freqlr"), 0) > drift.PSI_ALERT and found

        shifted = wait_until(alerted, "the PSI crossing PSI_ALERT in /metrics", timeout=SETTLE_S)
        print(f"clearly positive tweets: PSI {shifted[('sentiment_drift_psi', 'freqlr')]:.4f}")

        def ready_alert():
            status, _, ready = request(f"{server.url}/readyz", server.context)
            entries = [item for item in ready["drift"] if item["model"] == "freqlr"]
            return status == 200 and entries and entries[0].get("status") == "alert" and entries[0]

        entry = wait_until(
            ready_alert, "/readyz's drift of freqlr an alert, the status still 200", timeout=SETTLE_S
        )
        assert entry["psi"] > drift.PSI_ALERT and entry["rows"] == DRIFT_WINDOW
