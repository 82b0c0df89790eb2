"""The web pages as the app serves them: public, strict CSP, no inline code, no HTML built from data."""

import re

import pytest

from api.security import HEADERS
from api.web.pages import PAGE_CSP
from tests.e2e import ROOT

PAGES = ["/", "/history"]
STATIC = ROOT / "api" / "web" / "static"
# Ways to turn a string into markup or code, and storage that outlives the tab.
BANNED = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage", "cookie")


@pytest.mark.parametrize("path", PAGES)
def test_page_is_public_html_with_the_strict_csp(client, path):
    """No token needed to load a page; its CSP is the pages' own, the other security headers stay."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    for name in ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Cache-Control"):
        assert response.headers[name] == HEADERS[name]


def test_api_answers_keep_the_csp_that_allows_nothing(client, auth_header):
    """The pages' CSP is set on pages only."""
    response = client.get("/api/v1/models", headers=auth_header)
    assert response.headers["Content-Security-Policy"] == HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_inline_code_and_every_asset_is_served(client, path):
    """Scripts and styles come from files on this origin, each served with its own type."""
    html = client.get(path).get_data(as_text=True)
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    assert all('src="/static/' in attrs and body.strip() == "" for attrs, body in scripts)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.mimetype == types[asset[asset.rindex(".") :]]
    assert not [a for a in assets if "//" in a.removeprefix("/")]  # no CDN


def test_scripts_never_build_html_or_keep_the_token_beyond_the_tab():
    """API data reaches the page as text only; the token lives in sessionStorage, nowhere else."""
    scripts = {path.name: path.read_text() for path in STATIC.glob("*.js")}
    assert set(scripts) == {
        "common.js",
        "index.js",
        "explain.js",
        "results.js",
        "history.js",
        "jobs.js",
        "jobs_common.js",
        "job_panel.js",
        "job_list.js",
        "docs.js",
    }
    for name, source in scripts.items():
        for banned in BANNED:
            assert banned not in source, f"{name} uses {banned}"
    assert "sessionStorage.setItem" in scripts["common.js"]
