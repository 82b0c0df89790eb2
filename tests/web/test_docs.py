"""/docs: the OpenAPI document lists every route, and Swagger UI is served by the app under a strict CSP."""

import re
from html.parser import HTMLParser

import pytest

from api.security import HEADERS
from api.web.pages import PAGE_CSP
from api.web.swagger import ASSETS_MAX_AGE, ASSETS_PATH, DIST, DOCS_CSP

# Flask's converters as OpenAPI writes a path parameter: /api/v1/jobs/<job_id> is /api/v1/jobs/{job_id}.
CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")
# Static files are not operations: the app's own (/static/) and Swagger UI's (swagger.static).
STATIC_ENDPOINTS = {"static", "swagger.static"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# The README's words ("Web pages"), verbatim: the CSP of /docs.
README_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class _Tags(HTMLParser):
    """Collects a page's <script> and <link> tags and whether each script has a body of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.links: list[dict] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        """Record scripts and links with their attributes."""
        if tag == "script":
            self.scripts.append({**dict(attrs), "body": ""})
            self._in_script = True
        elif tag == "link":
            self.links.append(dict(attrs))

    def handle_endtag(self, tag):
        """Leave a script."""
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        """Keep what a script holds inline."""
        if self._in_script:
            self.scripts[-1]["body"] += data


def _tags(client):
    """Return the parsed tags of /docs."""
    tags = _Tags()
    tags.feed(client.get("/docs").get_data(as_text=True))
    return tags


def _operations(spec):
    """Return {(path, METHOD)} of the document."""
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item}


def _routes(app):
    """Return {(path, METHOD)} of every route of ``app`` but its static files, in OpenAPI's path syntax."""
    return {
        (CONVERTER.sub(r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in STATIC_ENDPOINTS
        for method in rule.methods - IGNORED_METHODS
    }


def _directives(csp):
    """Return {directive: [sources]} of a Content-Security-Policy header."""
    parts = (part.split() for part in csp.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def test_every_route_of_the_app_is_in_the_document_and_nothing_else(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    routes = _routes(app)
    assert {("/metrics", "GET"), ("/", "GET"), ("/history", "GET"), ("/docs", "GET")} <= routes
    assert _operations(spec) == routes


def test_the_document_says_which_routes_need_a_token_as_the_app_does(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, item in spec["paths"].items():
        if "{" in path or "get" not in item:
            continue
        secured = item["get"].get("security") == [{"bearerAuth": []}]
        status = client.get(path).status_code  # no token
        assert (status == 401) == secured, (path, status)
        assert ("401" in item["get"]["responses"]) == secured, path


def test_metrics_and_pages_are_documented_with_their_media_types(client, auth_header):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    metrics = paths["/metrics"]["get"]
    assert set(metrics["responses"]) >= {"200", "401", "403", "429"}
    assert list(metrics["responses"]["200"]["content"]) == ["text/plain"]
    refused = client.get("/metrics", headers=auth_header)  # alice has no admin flag
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    for page in ("/", "/history", "/docs"):
        assert list(paths[page]["get"]["responses"]["200"]["content"]) == ["text/html"]
        assert client.get(page).mimetype == "text/html"


def test_docs_has_a_csp_of_its_own_with_no_inline_or_eval_script(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == DOCS_CSP == README_DOCS_CSP
    directives = _directives(DOCS_CSP)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]
    # The pages and the API keep theirs.
    assert client.get("/").headers["Content-Security-Policy"] == PAGE_CSP
    assert client.get("/history").headers["Content-Security-Policy"] == PAGE_CSP
    api_csp = client.get("/api/v1/openapi.json").headers["Content-Security-Policy"]
    assert api_csp == HEADERS["Content-Security-Policy"]


def test_the_docs_page_runs_no_inline_script_and_loads_nothing_from_elsewhere(client):
    tags = _tags(client)
    assert len(tags.scripts) == 2
    for script in tags.scripts:
        assert script["src"].startswith("/") and not script["src"].startswith("//")
        assert script["body"].strip() == ""
    assert all(link["href"].startswith("/") and not link["href"].startswith("//") for link in tags.links)
    assert {script["src"] for script in tags.scripts} == {
        f"{ASSETS_PATH}/swagger-ui-bundle.js",
        "/static/docs.js",
    }


def test_swagger_ui_files_are_the_packages_served_by_the_app_and_cached_for_good(client):
    tags = _tags(client)
    assets = [script["src"] for script in tags.scripts] + [link["href"] for link in tags.links]
    vendored = [url for url in assets if url.startswith(ASSETS_PATH + "/")]
    assert len(vendored) == 3  # the bundle and two stylesheets
    for url in vendored:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.get_data() == (DIST / url.removeprefix(ASSETS_PATH + "/")).read_bytes()
        cache = response.cache_control
        assert (cache.public, cache.max_age, cache.immutable) == (True, ASSETS_MAX_AGE, True), url
    assert client.get("/static/docs.js").status_code == 200
    assert client.get(f"{ASSETS_PATH}/missing.js").status_code == 404


def test_the_files_do_not_spend_the_rate_limit_and_the_page_does(make_app):
    client = make_app(RATE_LIMIT="2/minute").test_client()
    bundle = f"{ASSETS_PATH}/swagger-ui-bundle.js"
    assert [client.get(bundle).status_code for _ in range(4)] == [200] * 4
    assert [client.get("/docs").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("path", ["/docs/", "/docs/assets/", f"{ASSETS_PATH}/../VERSION", "/docs?x=<script>"])
def test_odd_docs_paths_answer_json_errors_or_the_page(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert response.mimetype == ("text/html" if response.status_code == 200 else "application/json")
