"""The work budget: characters x models per token, exact refusals, Retry-After, storage failures."""

import time_machine
from limits.errors import StorageError
from limits.storage import MemoryStorage

from api.ops.tokens import create_token
from api.web.budget import WorkBudget, work_cost
from api.web.limits import StorageEvents

NOW = 1_800_000_000


def test_cost_is_characters_times_models_with_one_at_least_per_tweet():
    assert work_cost(["abc", "de"], 1) == 5
    assert work_cost(["abc", "de"], 2) == 10
    assert work_cost(["", "x"], 1) == 2


def _predict(client, headers, text, model=None):
    """POST one tweet; return the response."""
    query = f"?model={model}" if model else ""
    return client.post(f"/api/v1/predict{query}", json={"a": text}, headers=headers)


def test_successes_spend_the_budget_exactly_and_refusals_cost_nothing(make_app, auth_header):
    client = make_app(WORK_LIMIT="100/minute").test_client()
    with time_machine.travel(NOW, tick=False):
        first = _predict(client, auth_header, "x" * 40)
        second = _predict(client, auth_header, "x" * 40)
        refused = _predict(client, auth_header, "x" * 40)
        last = _predict(client, auth_header, "x" * 20)  # exactly what remains
        empty = _predict(client, auth_header, "x")
    assert (first.status_code, first.headers["X-Work-Limit"], first.headers["X-Work-Remaining"]) == (
        200,
        "100",
        "60",
    )
    assert (second.status_code, second.headers["X-Work-Remaining"]) == (200, "20")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "work_limit_exceeded"
    assert refused.headers["X-Work-Remaining"] == "20"
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert (last.status_code, last.headers["X-Work-Remaining"]) == (200, "0")
    assert empty.status_code == 429


def test_every_model_asked_is_charged(make_app, auth_header):
    client = make_app(WORK_LIMIT="100/minute").test_client()
    with time_machine.travel(NOW, tick=False):
        response = _predict(client, auth_header, "x" * 30, model="all")
    assert response.headers["X-Work-Remaining"] == "40"


def test_budget_is_per_token_and_renews_with_the_window(make_app, tokens, auth_header):
    client = make_app(WORK_LIMIT="50/minute").test_client()
    other = {"Authorization": f"Bearer {create_token(tokens[0], 'bob')}"}
    with time_machine.travel(NOW, tick=False) as clock:
        assert _predict(client, auth_header, "x" * 50).status_code == 200
        assert _predict(client, auth_header, "x").status_code == 429
        assert _predict(client, other, "x" * 50).status_code == 200
        clock.shift(61)
        assert _predict(client, auth_header, "x" * 50).status_code == 200


def test_a_request_costing_more_than_the_whole_budget_is_413(make_app, auth_header):
    client = make_app(WORK_LIMIT="50/minute").test_client()
    response = _predict(client, auth_header, "x" * 51)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "work_too_large"
    assert "split" in response.get_json()["error"]["message"]


class _DeadStorage(MemoryStorage):
    """A shared storage that has stopped answering."""

    def incr(self, key, expiry, amount=1):
        raise StorageError(ConnectionError("redis is gone"))


class _Limiter:
    """Stands in for flask-limiter: its configured storage, and the strategy it counts with now."""

    def __init__(self, storage, counting_in=None):
        self.storage = storage
        self.limiter = type("Strategy", (), {"storage": counting_in or storage})()


class _Log:
    """Collects warnings."""

    def __init__(self):
        self.warnings = []

    def warning(self, msg, *args, **kwargs):
        """Record a warning."""
        self.warnings.append(msg)


def test_a_failing_storage_falls_back_to_memory_and_says_so():
    log = _Log()
    limiter = _Limiter(_DeadStorage())
    events = StorageEvents(log, limiter, distributed=True)
    budget = WorkBudget("10/minute", limiter, events)
    assert budget.charge("token:a", 6).remaining == 4
    assert budget.charge("token:a", 4).remaining == 0
    assert events.fallbacks == 2
    assert all("work budget storage unreachable" in line for line in log.warnings)


def test_the_counts_are_shared_while_the_limiter_counts_in_its_configured_storage():
    shared = MemoryStorage()
    assert StorageEvents(_Log(), _Limiter(shared), distributed=True).shared is True
    # flask-limiter counts in its own memory while the configured storage is down.
    assert StorageEvents(_Log(), _Limiter(shared, MemoryStorage()), distributed=True).shared is False
    assert StorageEvents(_Log(), _Limiter(shared), distributed=False).shared is False


def _documented_codes(client, status):
    """Return the error codes the OpenAPI document lists for predict's ``status`` answer."""
    spec = client.get("/api/v1/openapi.json").get_json()
    ref = spec["paths"]["/api/v1/predict"]["post"]["responses"][str(status)]["$ref"]
    response = spec["components"]["responses"][ref.rsplit("/", 1)[1]]
    narrowed = response["content"]["application/json"]["schema"]["allOf"][1]
    return narrowed["properties"]["error"]["properties"]["code"]["enum"]


def test_the_budget_answers_are_documented(make_app, auth_header):
    client = make_app(WORK_LIMIT="50/minute", RATE_LIMIT="1000/minute").test_client()
    spec = client.get("/api/v1/openapi.json").get_json()
    ok_headers = spec["paths"]["/api/v1/predict"]["post"]["responses"]["200"]["headers"]
    assert {"X-Work-Limit", "X-Work-Remaining"} <= set(ok_headers)
    with time_machine.travel(NOW, tick=False):
        too_large = _predict(client, auth_header, "x" * 51)
        _predict(client, auth_header, "x" * 50)
        over_budget = _predict(client, auth_header, "x")
    assert too_large.get_json()["error"]["code"] in _documented_codes(client, 413)
    assert over_budget.get_json()["error"]["code"] in _documented_codes(client, 429)
    assert "too_many_in_flight" in _documented_codes(client, 429)
