"""/docs in a real Chromium: Swagger UI authorises with a bearer token and runs a predict from "Try it out",
under the page's CSP, with no console error, no CSP violation and no request to another origin.

Chromium, its tab (which fails the test on a console error or a CSP violation) and the live server are
tests/web/test_browser.py's.
"""

import json

import pytest

from api.web.swagger import DOCS_CSP
from tests.web import test_browser as chromium
from tests.web.test_browser import NEGATIVE, POSITIVE, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# test_browser.py's fixtures, found by pytest under these names (this module gets its own server).
browser = chromium.browser
expected_errors = chromium.expected_errors
page = chromium.page
server = chromium.server

BODY = {"t1": POSITIVE, "t2": NEGATIVE}
# Swagger UI's ids: an operation without a tag is under "default".
PREDICT = "#operations-default-predict"
# The pages keep the token in the tab's sessionStorage under this key (api/web/static/common.js).
TOKEN_KEY = "sentiment-api-token"


def open_docs(page, server):
    """Load /docs, check its CSP, and wait until Swagger UI has drawn the predict operation."""
    response = page.goto(server.url + "/docs")
    assert response.status == 200
    assert response.headers["content-security-policy"] == DOCS_CSP
    page.locator(PREDICT).wait_for()


def record_requests(page):
    """Start recording every request the tab makes; return the list they are added to."""
    sent = []
    page.on("request", lambda req: sent.append(req))
    return sent


def authorize(page, token):
    """Give ``token`` to Swagger UI's Authorize dialog and close it."""
    page.click("button.authorize")
    dialog = page.locator(".modal-ux")
    dialog.locator("input").fill(token)
    dialog.locator("button.modal-btn.authorize").click()
    dialog.locator("button.btn-done").click()
    dialog.wait_for(state="detached")


def try_predict(page, body):
    """Open predict, "Try it out" with ``body``, execute, and return the status and body shown."""
    operation = page.locator(PREDICT)
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("textarea.body-param__text").fill(json.dumps(body))
    operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table .response")
    live.wait_for()
    status = live.locator(".response-col_status").inner_text().strip()
    shown = live.locator(".response-col_description pre.microlight").first.inner_text()
    return status, json.loads(shown)


def test_docs_authorises_with_a_token_and_runs_a_predict(page, server):
    """Authorize, then Try it out on predict: the answer is the API's, sent with the bearer token."""
    sent = record_requests(page)
    open_docs(page, server)
    authorize(page, server.token)

    status, answer = try_predict(page, BODY)

    assert status == "200"
    assert answer == {"t1": "Positive", "t2": "Negative"}
    (predict,) = [req for req in sent if req.url.startswith(server.url + "/api/v1/predict")]
    assert predict.method == "POST"
    assert predict.headers["authorization"] == f"Bearer {server.token}"
    # Everything the page loaded and sent stayed on the server's own origin (data: icons aside).
    assert [req.url for req in sent if not req.url.startswith((server.url + "/", "data:"))] == []
    # Swagger UI kept the token in memory: nothing in localStorage, no cookie.
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    shot(page, "docs-try-it-out")


def test_docs_lists_every_operation_of_the_document(page, server):
    """Each operation of the OpenAPI document is drawn, the pages and /metrics included."""
    open_docs(page, server)
    document = page.evaluate("fetch('/api/v1/openapi.json').then((r) => r.json())")
    ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert {"metrics", "indexPage", "historyPage", "docsPage", "predict"} <= ids
    drawn = page.eval_on_selector_all(".opblock", "blocks => blocks.map((b) => b.id)")
    assert sorted(drawn) == sorted(f"operations-default-{name}" for name in ids)


def test_a_token_typed_on_the_pages_authorises_the_docs(page, server, expected_errors):
    """The token in the tab's sessionStorage (typed on / or /history) is used without the dialog."""
    open_docs(page, server)
    page.evaluate(f"sessionStorage.setItem({TOKEN_KEY!r}, {server.token!r})")
    page.reload()
    page.locator(PREDICT).wait_for()

    status, answer = try_predict(page, BODY)

    assert (status, answer) == ("200", {"t1": "Positive", "t2": "Negative"})
