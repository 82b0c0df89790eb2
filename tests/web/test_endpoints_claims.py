"""README "Endpoints" claims that no other test checked: every route the table marks rate limited is,
the answers carry the fields the table lists, `store=false` combines with the other parameters, and
`too_many_in_flight` is the API's JSON 429."""

import threading

import pytest
import time_machine

from api import constants as c
from api.history.store import upgrade
from api.ops.tokens import create_token
from tests.history.helpers import stored

PREDICT = "/api/v1/predict"
TWEETS = {"b": "I love this, what a great day :)", "a": "worst service ever, so angry"}
# The routes the README's table marks "rate limited: yes", with the token each needs.
LIMITED = [
    ("POST", PREDICT, "user"),
    ("GET", "/api/v1/predictions", "user"),
    ("GET", "/api/v1/models", "user"),
    ("GET", "/api/v1/model", "user"),
    ("GET", "/api/v1/openapi.json", None),
    ("GET", "/metrics", "admin"),
]


@pytest.fixture
def history_url(tmp_path):
    """A migrated SQLite history database of the test's own."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    upgrade(url)
    return url


@pytest.fixture
def history_client(make_app, history_url):
    """Return (app, client) of an app keeping its history in ``history_url``; its engine is closed after."""
    app = make_app(HISTORY_URL=history_url)
    yield app, app.test_client()
    app.extensions[c.EXT_HISTORY].store.dispose()


@pytest.mark.parametrize(("method", "path", "who"), LIMITED, ids=[f"{m} {p}" for m, p, _ in LIMITED])
def test_every_route_the_table_marks_limited_answers_429_past_the_limit(
    make_app, tokens, auth_header, history_url, method, path, who
):
    app = make_app(RATE_LIMIT="1/minute", HISTORY_URL=history_url)
    headers = {
        "user": auth_header,
        "admin": {"Authorization": f"Bearer {create_token(tokens[0], 'root', admin=True)}"},
        None: {},
    }[who]
    client = app.test_client()
    body = {"json": {"a": "x"}} if method == "POST" else {}
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [client.open(path, method=method, headers=headers, **body).status_code for _ in range(2)]
        refused = client.open(path, method=method, headers=headers, **body)
    app.extensions[c.EXT_HISTORY].store.dispose()
    assert statuses == [200, 429]
    assert refused.get_json()["error"]["code"] == "rate_limited"


def test_models_and_model_carry_the_fields_the_table_lists(client, auth_header):
    models = client.get("/api/v1/models", headers=auth_header).get_json()
    for info in models["models"]:
        assert {"name", "version", "kind", "metrics", "default"} <= set(info), info
        assert info["kind"] and info["metrics"]["accuracy"]
    assert [info["name"] for info in models["models"] if info["default"]] == [models["default"]]
    model = client.get("/api/v1/model", headers=auth_header).get_json()
    assert model["name"] == models["default"]
    assert {"name", "version", "metrics", "training_data"} <= set(model)
    assert len(model["training_data"]["sha256"]) == 64  # the training data's hash


def test_store_false_combines_with_model_and_detail(history_client, auth_header):
    app, client = history_client
    kept_out = client.post(f"{PREDICT}?store=false&model=all&detail=true", json=TWEETS, headers=auth_header)
    assert kept_out.status_code == 200
    assert set(kept_out.get_json()["b"]) == {"freqlr", "nblr"}
    assert set(kept_out.get_json()["b"]["nblr"]) == {"label", "score"}
    query = "?model=nblr&detail=true&store=true"
    kept = client.post(f"{PREDICT}{query}", json={"k": "fine"}, headers=auth_header)
    assert kept.status_code == 200
    assert [(row["tweet_id"], row["model"]) for row in stored(app)] == [("k", "nblr")]


def test_the_listing_gives_fifty_rows_by_default_with_the_listed_fields(history_client, auth_header):
    app, client = history_client
    body = {f"t{i:02}": f"tweet {i}" for i in range(60)}
    assert client.post(PREDICT, json=body, headers=auth_header).status_code == 200
    stored(app)
    rows = client.get("/api/v1/predictions", headers=auth_header).get_json()["predictions"]
    assert len(rows) == 50
    assert all(set(row) == {"id", "label", "score", "model", "version", "token", "created"} for row in rows)


@pytest.mark.parametrize(
    ("path", "key", "fragment"),
    [
        (f"{PREDICT}?store=maybe", "store", "true or false"),
        (f"{PREDICT}?detail=1", "detail", "true or false"),
        (f"{PREDICT}?storre=false", "storre", "accepted: model, detail, store"),
        ("/api/v1/predictions?limit=0", "limit", "from 1 to 1000"),
        ("/api/v1/predictions?since=1", "since", "accepted: limit"),
    ],
)
def test_an_invalid_parameter_is_named_and_its_valid_values_listed(
    history_client, auth_header, path, key, fragment
):
    _, client = history_client
    if path.startswith(PREDICT + "?"):
        response = client.post(path, json={"a": "x"}, headers=auth_header)
    else:
        response = client.get(path, headers=auth_header)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["key"]) == ("invalid_parameter", key)
    assert fragment in error["message"]


def test_a_token_at_its_in_flight_cap_gets_a_json_429_with_retry_after(make_app, auth_header):
    app = make_app(MAX_IN_FLIGHT=1)
    registry = app.extensions[c.EXT_MODEL]
    score, entered, release = registry.score, threading.Event(), threading.Event()

    def held(*args, **kwargs):
        """Score once the test lets go: the first request stays in flight until then."""
        entered.set()
        release.wait(10)
        return score(*args, **kwargs)

    registry.score = held
    first = {}

    def send_first():
        """The request that stays in flight."""
        first["response"] = app.test_client().post(PREDICT, json=TWEETS, headers=auth_header)

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert entered.wait(10), "the first request never reached the model"
        refused = app.test_client().post(PREDICT, json=TWEETS, headers=auth_header)
    finally:
        release.set()
        thread.join(10)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_in_flight"
    # The view's 1 s, not the request-limit window's reset that flask-limiter would put there.
    assert refused.headers["Retry-After"] == "1"
    assert first["response"].status_code == 200
    registry.score = score
    assert app.test_client().post(PREDICT, json=TWEETS, headers=auth_header).status_code == 200
