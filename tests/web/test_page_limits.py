"""Pages count against the per-address request limit; their static files and the probes do not."""

import pytest

LIMIT = 3
STATIC = ["/static/style.css", "/static/common.js", "/static/index.js", "/static/favicon.svg"]


@pytest.fixture
def client(make_app):
    """A test client of an app allowing LIMIT requests a minute per caller."""
    return make_app(RATE_LIMIT=f"{LIMIT}/minute").test_client()


def test_page_loads_spend_the_address_budget_and_static_files_do_not(client):
    # Static files before, between and after the pages: none of them spends the budget.
    for path in STATIC:
        assert client.get(path).status_code == 200, path
    for page in ["/", "/history", "/"]:
        assert client.get(page).status_code == 200, page
        assert client.get(STATIC[0]).status_code == 200

    refused = client.get("/history")
    assert refused.status_code == 429
    assert refused.mimetype == "application/json"
    assert refused.json["error"]["code"] == "rate_limited"
    assert "Retry-After" in refused.headers
    assert client.get("/").status_code == 429

    # Over the limit, the static files and the probes are still served.
    for path in [*STATIC, "/healthz", "/readyz"]:
        assert client.get(path).status_code == 200, path


def test_another_address_still_has_its_own_budget(client):
    for _ in range(LIMIT):
        assert client.get("/").status_code == 200
    assert client.get("/").status_code == 429
    other = client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200
