"""The shadow model (API_SHADOW_MODEL): a copy of each predict's tweets, queued once the answer is sent,
scored by the shadow, its agreement with the answering model counted; a full queue drops and counts;
a name that is not a served model stops the start."""

import time
import urllib.request

import pytest

from api import constants as c
from api.ops.tokens import create_token
from api.web.shadow import SHADOW, Copy, Shadow
from model.errors import ArtifactError
from model.serving import artifacts
from model.serving.artifacts import DEFAULT_DIR
from tests.e2e import log_records, request, running_server
from tests.web.metrics_helpers import samples, value

PREDICT = "/api/v1/predict"
ANSWERING, SHADOWING = "freqlr", "nblr"
TWEETS = {
    "a": "what a lovely day :)",
    "b": "I hate mondays",
    "c": "not bad at all",
    "d": "Can't wait for the weekend :)",
    "e": "I don't hate it",
    "f": "never been happier",
    "g": "not sad anymore",
    "h": "meh, it was ok I guess",
    "i": "the worst service, never again",
    "j": "@someone thanks for the follow! http://t.co/x",
}
DEADLINE = 30


def expected_agreement():
    """Return (agreed, disagreed) of the two committed models on TWEETS, each asked directly."""
    texts = list(TWEETS.values())
    answering = artifacts.load(DEFAULT_DIR, ANSWERING)[0].predict_labels(texts)
    shadowing = artifacts.load(DEFAULT_DIR, SHADOWING)[0].predict_labels(texts)
    agreed = sum(a == b for a, b in zip(answering, shadowing, strict=True))
    return agreed, len(texts) - agreed


def agreement(scraped):
    """Return (agreed, disagreed) of the shadow's counter in a scrape."""
    name = "sentiment_shadow_agreement_total"
    return tuple(
        value(scraped, name, model=ANSWERING, shadow=SHADOWING, agree=agree) for agree in ("true", "false")
    )


@pytest.fixture
def admin_header(tokens):
    """The Authorization header of an admin token (for /metrics)."""
    return {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"}


def test_the_shadows_agreement_with_the_answering_model_is_counted(make_app, auth_header, admin_header):
    app = make_app(SHADOW_MODEL=SHADOWING)
    client = app.test_client()
    with client.post(PREDICT, json=TWEETS, headers=auth_header) as answer:  # closed: sent, as a server does
        assert (answer.status_code, answer.headers["X-Model"]) == (200, ANSWERING)
    shadow = SHADOW.of(app)
    deadline = time.monotonic() + DEADLINE
    while shadow.queue.unfinished_tasks:
        assert time.monotonic() < deadline, "the shadow never scored the copy"
        time.sleep(0.01)  # polling loop with a deadline
    scraped = samples(client.get("/metrics", headers=admin_header).get_data(as_text=True))
    assert agreement(scraped) == expected_agreement()
    assert value(scraped, "sentiment_shadow_dropped_total") == 0


def test_the_copy_is_offered_only_once_the_answer_is_sent(make_app, auth_header, monkeypatch):
    app = make_app(SHADOW_MODEL=SHADOWING)
    offered = []
    monkeypatch.setattr(SHADOW.of(app), "offer", offered.append)
    answer = app.test_client().post(PREDICT, json=TWEETS, headers=auth_header, buffered=False)
    assert offered == []  # the view has returned; its body is not written yet
    assert answer.get_data()
    answer.close()
    assert [(c.answered_by, list(c.texts)) for c in offered] == [(ANSWERING, list(TWEETS.values()))]


@pytest.mark.parametrize(
    ("query", "copied"),
    [("", True), (f"?model={ANSWERING}", True), ("?model=all", False), (f"?model={SHADOWING}", False)],
)
def test_only_requests_the_shadow_did_not_answer_are_copied(
    make_app, auth_header, monkeypatch, query, copied
):
    app = make_app(SHADOW_MODEL=SHADOWING)
    offered = []
    monkeypatch.setattr(SHADOW.of(app), "offer", offered.append)
    with app.test_client().post(PREDICT + query, json=TWEETS, headers=auth_header) as answer:
        assert answer.status_code == 200
    assert len(offered) == int(copied)


def test_a_full_queue_drops_and_counts_and_frees_room_as_it_is_scored(app):
    registry = app.extensions[c.EXT_MODEL]
    scored, drops = [], []
    shadow = Shadow(registry, SHADOWING, lambda *counts: scored.append(counts), lambda: drops.append(1), 3)
    shadow._ensure_started = lambda: None  # no thread: this test scores the queue itself
    two = Copy(ANSWERING, ["good", "bad"], [1.0, -1.0])
    assert shadow.offer(two) is True
    assert shadow.offer(two) is False  # 4 tweets > 3
    assert drops == [1]
    assert shadow.score_next(timeout=0) is True
    assert shadow.queued == 0
    assert shadow.offer(two) is True  # room again
    assert sum(agreed + disagreed for _, agreed, disagreed in scored) == 2


def test_a_shadow_that_is_not_a_served_model_stops_the_app(make_app):
    with pytest.raises(ArtifactError, match="API_SHADOW_MODEL='nope' is not a served model"):
        make_app(SHADOW_MODEL="nope")


@pytest.mark.e2e
def test_the_server_refuses_to_start_with_an_unknown_shadow(tmp_path):
    with (
        pytest.raises(AssertionError, match=r"^server exited with 1:") as refused,
        running_server(tmp_path, env={"API_SHADOW_MODEL": "nope"}),
    ):
        pass  # reached only if it started: pytest.raises then fails the test
    log = str(refused.value).split(":\n", 1)[1]
    refusals = [r["message"] for r in log_records(log) if r["message"].startswith("refusing to start:")]
    assert refusals == ["refusing to start: API_SHADOW_MODEL: model 'nope' is not one of freqlr, nblr"]


@pytest.mark.e2e
def test_a_running_servers_shadow_counts_agreement_in_metrics(tmp_path):
    with running_server(tmp_path, env={"API_SHADOW_MODEL": SHADOWING}) as server:
        admin = create_token(server.tokens_file, "admin", admin=True)
        status, _, _ = request(server.url + PREDICT, server.context, TWEETS, server.token)
        assert status == 200

        def counted():
            scrape = urllib.request.Request(
                server.url + "/metrics", headers={"Authorization": f"Bearer {admin}"}
            )
            with urllib.request.urlopen(scrape, context=server.context, timeout=30) as response:
                found = agreement(samples(response.read().decode()))
            return found if sum(found) == len(TWEETS) else None

        deadline = time.monotonic() + DEADLINE
        while (found := counted()) is None:
            assert time.monotonic() < deadline, "the shadow's counts never reached /metrics"
            time.sleep(0.2)  # polling loop with a deadline
        assert found == expected_agreement()
