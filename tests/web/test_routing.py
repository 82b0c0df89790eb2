"""No routing redirects: a path with a doubled or trailing slash is a JSON 404, never a 308 to a URL built
from the request's Host header (werkzeug's merge_slashes redirect, which Flask sends without calling
the app's error handlers, as HTML)."""

from pathlib import Path

import pytest

from api.web.swagger import ASSETS_PATH

HOSTILE_HOST = "evil.example"


def concrete_paths(app):
    """Return ``(path, methods)`` for every URL rule, with its arguments filled in by a real value."""
    static_file = sorted(path.name for path in Path(app.static_folder).iterdir())[0]
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:filename>", static_file).replace("<job_id>", "0" * 32)
        assert "<" not in path, f"no value for the arguments of {rule.rule}: add one here"
        yield path, sorted(rule.methods | {"POST"})


def variants(path):
    """Return ``path`` with each of its slashes doubled, and with a slash added at the end."""
    slashes = [i for i, char in enumerate(path) if char == "/"]
    return [path[:i] + "/" + path[i:] for i in slashes] + [path + "/"]


def _cases(app):
    """Return every (method, variant path) to try."""
    return [
        (method, variant)
        for path, methods in concrete_paths(app)
        for method in methods
        for variant in variants(path)
    ]


def test_the_cases_cover_every_route_and_the_reported_one(app):
    cases = _cases(app)
    assert ("POST", "/api//v1/predict") in cases
    assert {path for _, path in cases} >= {"/api/v1/predict/", "/healthz/", "/metrics/", "//"}


def test_no_doubled_or_trailing_slash_path_is_redirected(app):
    client = app.test_client()
    for method, path in _cases(app):
        response = client.open(path, method=method, headers={"Host": HOSTILE_HOST})
        where = f"{method} {path}"
        assert "Location" not in response.headers, where
        assert not 300 <= response.status_code < 400, where
        if _served_as_the_route(path):
            continue
        assert response.status_code == 404, where
        if method != "HEAD":
            assert response.get_json()["error"]["code"] == "not_found", where


def _served_as_the_route(path):
    """True for a static route's trailing-slash variant: its path argument takes "app.js/" as app.js."""
    return path.startswith(("/static/", f"{ASSETS_PATH}/")) and path.endswith("/") and "//" not in path


@pytest.mark.parametrize("path", ["/api//v1/predict", "/api/v1//predict", "/static//app.js"])
def test_the_reported_paths_are_json_404s_that_name_no_host(client, auth_header, path):
    response = client.post(path, json={"a": "x"}, headers={**auth_header, "Host": HOSTILE_HOST})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert HOSTILE_HOST not in response.get_data(as_text=True)


def test_an_empty_path_is_a_json_404_not_a_redirect_to_slash(client):
    # An absolute-form request line with no path ("GET https://evil.example HTTP/1.1") reaches the app so.
    response = client.get("/", environ_overrides={"PATH_INFO": ""}, headers={"Host": HOSTILE_HOST})
    assert "Location" not in response.headers
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
