"""Rate limits: JSON 429s with Retry-After, per-token buckets, reset after the window."""

import time_machine

from api.ops.tokens import create_token


def test_limit_gives_json_429_with_retry_after(make_app, auth_header):
    client = make_app(RATE_LIMIT="3/minute").test_client()
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [client.get("/api/v1/model", headers=auth_header).status_code for _ in range(4)]
        limited = client.get("/api/v1/model", headers=auth_header)
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    # flask-limiter rounds the window end up, so a 60 s window can say 61.
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_limit_resets_after_the_window(make_app, auth_header):
    client = make_app(RATE_LIMIT="1/minute").test_client()
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        assert client.get("/api/v1/model", headers=auth_header).status_code == 200
        assert client.get("/api/v1/model", headers=auth_header).status_code == 429
        clock.shift(61)
        assert client.get("/api/v1/model", headers=auth_header).status_code == 200


def test_each_token_has_its_own_bucket(make_app, tokens, auth_header):
    client = make_app(RATE_LIMIT="1/minute").test_client()
    other = {"Authorization": f"Bearer {create_token(tokens[0], 'bob')}"}
    with time_machine.travel(1_800_000_000, tick=False):
        assert client.get("/api/v1/model", headers=auth_header).status_code == 200
        assert client.get("/api/v1/model", headers=auth_header).status_code == 429
        assert client.get("/api/v1/model", headers=other).status_code == 200


def test_successful_answers_carry_no_retry_after(client, auth_header):
    response = client.get("/api/v1/model", headers=auth_header)
    assert response.status_code == 200
    assert "Retry-After" not in response.headers
    assert "X-RateLimit-Remaining" in response.headers


def test_health_probes_are_not_limited(make_app):
    client = make_app(RATE_LIMIT="1/minute").test_client()
    assert [client.get("/healthz").status_code for _ in range(5)] == [200] * 5
    assert [client.get("/readyz").status_code for _ in range(5)] == [200] * 5


def test_failed_authentication_is_limited_per_address(make_app, auth_header):
    client = make_app(AUTH_FAILURE_LIMIT="3/minute").test_client()
    wrong = {"Authorization": "Bearer sa_guess"}
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [
            client.post("/api/v1/predict", json={"a": "x"}, headers=wrong).status_code for _ in range(5)
        ]
        # A valid token from the same address is not locked out by someone else's guessing.
        valid = client.post("/api/v1/predict", json={"a": "x"}, headers=auth_header)
    assert statuses == [401, 401, 401, 429, 429]
    assert valid.status_code == 200


def test_valid_requests_do_not_spend_the_failure_budget(make_app, auth_header):
    client = make_app(AUTH_FAILURE_LIMIT="2/minute").test_client()
    with time_machine.travel(1_800_000_000, tick=False):
        for _ in range(5):
            assert client.get("/api/v1/model", headers=auth_header).status_code == 200
        wrong = [client.get("/api/v1/model").status_code for _ in range(3)]
    assert wrong == [401, 401, 429]


def test_readyz_says_memory_storage_is_not_shared(client):
    # memory:// counts in each worker alone: /readyz must not claim the limits are shared.
    assert client.get("/readyz").get_json()["rate_limit_storage"] == {"shared": False, "fallbacks": 0}


def test_one_request_budget_per_token_across_endpoints(make_app, auth_header):
    client = make_app(RATE_LIMIT="4/minute").test_client()
    calls = [
        lambda: client.get("/api/v1/model", headers=auth_header),
        lambda: client.get("/api/v1/models", headers=auth_header),
        lambda: client.post("/api/v1/predict", json={"a": "x"}, headers=auth_header),
        lambda: client.get("/api/v1/openapi.json", headers=auth_header),
    ]
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [call().status_code for _ in range(3) for call in calls]
    assert statuses.count(200) == 4
    assert statuses[:4] == [200] * 4
    assert set(statuses[4:]) == {429}


def test_one_budget_per_address_before_authentication(make_app):
    client = make_app(RATE_LIMIT="3/minute").test_client()
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [client.get(path).status_code for path in ("/", "/history", "/api/v1/openapi.json") * 2]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_failed_authentications_share_one_budget_across_endpoints(make_app):
    client = make_app(AUTH_FAILURE_LIMIT="3/minute").test_client()
    wrong = {"Authorization": "Bearer sa_guess"}
    with time_machine.travel(1_800_000_000, tick=False):
        statuses = [
            client.post("/api/v1/predict", json={"a": "x"}, headers=wrong).status_code,
            client.get("/metrics", headers=wrong).status_code,
            client.get("/api/v1/model", headers=wrong).status_code,
            client.get("/metrics", headers=wrong).status_code,
            client.post("/api/v1/predict", json={"a": "x"}, headers=wrong).status_code,
        ]
    assert statuses == [401, 401, 401, 429, 429]


def test_ipv6_clients_share_a_budget_per_64_and_mapped_ipv4_is_ipv4(make_app):
    client = make_app(RATE_LIMIT="2/minute").test_client()

    def status(address):
        return client.get("/api/v1/openapi.json", environ_base={"REMOTE_ADDR": address}).status_code

    with time_machine.travel(1_800_000_000, tick=False):
        same_64 = [status(a) for a in ("2001:db8::1", "2001:db8::2", "2001:db8::ffff:3")]
        other_64 = status("2001:db8:0:1::1")
        mapped = [status(a) for a in ("127.0.0.9", "::ffff:127.0.0.9", "::ffff:127.0.0.9")]
    assert same_64 == [200, 200, 429]
    assert other_64 == 200
    assert mapped == [200, 200, 429]
