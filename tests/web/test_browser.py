"""The web pages in a real headless Chromium against a live server over TLS (Playwright).

Debian's chromium is driven by path; Playwright's own browser download is never used.
Screenshots go to reports/screenshots/ (git-ignored) for a person to look at.
"""

import re

import pytest
from playwright.sync_api import sync_playwright

from api.settings import Settings
from api.web.pages import PAGE_CSP
from tests.e2e import ROOT, request, running_server, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "reports" / "screenshots"
# Small, so "too many lines" is quick to type; the page must learn it from the OpenAPI document.
MAX_ITEMS = 5
# The server's default, which the page also learns from the OpenAPI document.
MAX_TWEET_CHARS = Settings.model_fields["MAX_TWEET_CHARS"].default
POSITIVE = "I love this, what a great day :)"
NEGATIVE = "worst service ever, so angry"
# Markup in a tweet must show as text, never become an element.
MARKUP = '<img src=x id=injected onerror="document.title=1"> so happy, love it'
# Records what the page's CSP refused; Playwright's init scripts are not subject to the page's CSP.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server with a small item limit and a history that keeps tweet text."""
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        "API_MAX_ITEMS": str(MAX_ITEMS),
        "API_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}",
        "API_HISTORY_TEXT": "true",
    }
    with running_server(tmp, env=env) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, launched by path."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def expected_errors():
    """Patterns of console errors a test causes on purpose (Chromium logs every failed fetch)."""
    return []


@pytest.fixture
def page(browser, expected_errors):
    """A fresh tab that records console errors, page errors and CSP violations; checked after the test."""
    # The server's certificate is from the test's own CA, which Chromium does not know.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 900})
    context.add_init_script(CSP_LISTENER)
    tab = context.new_page()
    problems = []
    tab.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield tab
    violations = tab.evaluate("window.__cspViolations")
    context.close()
    assert [p for p in problems if not any(re.search(e, p) for e in expected_errors)] == []
    assert violations == []


def shot(page, name):
    """Save a full-page screenshot as reports/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_form(page, server):
    """Load the form page; check its CSP; wait until it has read the limits."""
    response = page.goto(server.url + "/")
    assert response.status == 200
    assert response.headers["content-security-policy"] == PAGE_CSP
    hint = page.locator("#tweets-hint")
    hint.filter(has_text=f"up to {MAX_ITEMS} lines").wait_for()


def enter_token(page, token):
    """Type ``token`` and wait until the page has used it to read the models' accuracy.

    Reading the list clears a shown token error, which moves the submit button; a click must not race that.
    """
    page.fill("#token", token)
    page.dispatch_event("#token", "change")
    page.locator("#model option[value='nblr']", has_text="accuracy").wait_for(state="attached")


def predict_requests(page):
    """Start recording the predict calls the page makes; return the list they are added to."""
    sent = []
    page.on("request", lambda req: sent.append(req.url) if "/api/v1/predict" in req.url else None)
    return sent


def label_tweets(page, server, tweets):
    """Type ``tweets`` and the token, submit, and return the results table's rows as lists of cell texts."""
    page.fill("#tweets", "\n".join(tweets))
    page.fill("#token", server.token)
    page.click("#submit")
    page.locator("#status").filter(has_text=f"{len(tweets)} labelled").wait_for()
    rows = page.locator("#results-body tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def test_form_labels_tweets_and_shows_the_positive_share(page, server):
    """Typed tweets come back as a table of line, tweet, label and score, with the positive share."""
    open_form(page, server)
    rows = label_tweets(page, server, [POSITIVE, NEGATIVE, MARKUP])

    assert [row[:3] for row in rows] == [
        ["1", POSITIVE, "Positive"],
        ["2", NEGATIVE, "Negative"],
        ["3", MARKUP, "Positive"],
    ]
    scores = [float(row[3]) for row in rows]
    assert scores[0] > 0.5 > scores[1]
    assert page.locator("#injected").count() == 0
    assert page.title() != "1"

    assert page.inner_text("#share-text") == "2 of 3 positive (67%)"
    # The bar's width is a CSS transition: wait for it to reach its share (Playwright's own deadline).
    page.wait_for_function(
        """() => {
            const bar = document.querySelector('#share-bar').getBoundingClientRect().width;
            const fill = document.querySelector('#share-fill').getBoundingClientRect().width;
            return bar > 0 && Math.abs(fill / bar - 0.67) <= 0.03;
        }"""
    )
    bar = page.locator("#share-bar").bounding_box()["width"]
    fill = page.locator("#share-fill").bounding_box()["width"]
    assert fill / bar == pytest.approx(0.67, abs=0.03)
    shot(page, "form-results")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "form-results-phone")

    # The token stays in this tab's sessionStorage: nothing in localStorage, no cookie.
    assert page.evaluate("sessionStorage.getItem('sentiment-api-token')") == server.token
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []


def test_model_chooser_is_filled_from_the_api(page, server):
    """Once the token is typed, the served models' options gain their accuracy; a chosen one is asked for."""
    open_form(page, server)
    enter_token(page, server.token)
    values = page.eval_on_selector_all("#model option", "options => options.map(o => o.value)")
    assert values == ["freqlr", "nblr"]

    sent = predict_requests(page)
    page.select_option("#model", "nblr")
    rows = label_tweets(page, server, [POSITIVE, NEGATIVE])
    assert [row[2] for row in rows] == ["Positive", "Negative"]
    assert re.search(r"[?&]model=nblr(&|$)", sent[-1])


def test_validation_errors_show_next_to_their_fields_without_a_request(page, server):
    """Empty input, a missing token, too many lines and too long a tweet are caught in the page."""
    open_form(page, server)
    sent = predict_requests(page)

    page.click("#submit")
    assert page.inner_text("#tweets-error") == "Enter at least one tweet, one per line."
    assert page.inner_text("#token-error") == "Enter your bearer token."
    assert page.get_attribute("#tweets", "aria-invalid") == "true"

    page.fill("#tweets", "\n".join(f"tweet number {i}" for i in range(MAX_ITEMS + 1)))
    enter_token(page, server.token)
    assert page.is_hidden("#token-error")
    page.click("#submit")
    too_many = f"{MAX_ITEMS + 1} tweets; the limit is {MAX_ITEMS} per request."
    assert page.inner_text("#tweets-error") == too_many
    assert page.is_hidden("#token-error")
    shot(page, "form-validation")

    page.fill("#tweets", "fine\n" + "x" * (MAX_TWEET_CHARS + 1))
    page.click("#submit")
    too_long = f"Line 2 is {MAX_TWEET_CHARS + 1} characters; the limit is {MAX_TWEET_CHARS}."
    assert page.inner_text("#tweets-error") == too_long
    assert sent == []


def test_wrong_token_is_reported_next_to_the_token_field(page, server, expected_errors):
    """The server's 401 shows under the token field; the browser logs the failed call, nothing else."""
    expected_errors.append("status of 401")
    open_form(page, server)
    page.fill("#tweets", POSITIVE)
    page.fill("#token", "sa_wrong")
    page.click("#submit")
    page.locator("#token-error").filter(has_text="refused").wait_for()
    assert page.is_hidden("#results")


def test_history_lists_predictions_newest_first(page, server):
    """Two batches labelled in the form appear on the history page, the later one first."""
    open_form(page, server)
    first = ["first batch, what a lovely morning", "first batch, I hate waiting"]
    second = ["second batch, best concert ever", "second batch, this is awful"]
    label_tweets(page, server, first)
    label_tweets(page, server, second)

    # The server writes history off the request path: wait until the API lists all four rows.
    wait_until(lambda: set(first + second) <= _stored_texts(server), "the four rows in the history")
    page.goto(server.url + "/history")
    page.locator("#status").filter(has_text=re.compile("loaded")).wait_for()
    texts = page.locator("#history-body td.tweet").all_inner_texts()
    # Newest first: the second batch before the first (one request's rows share a time).
    assert set(texts[:2]) == set(second)
    assert set(texts[2:4]) == set(first)
    labels = page.locator("#history-body td.label").all_inner_texts()
    assert labels[:4].count("Positive") == 2
    assert page.locator("#history-body td.token-name").all_inner_texts()[:4] == ["e2e"] * 4
    assert page.locator("#history-body td.model").all_inner_texts()[:4] == ["freqlr"] * 4
    assert all(v.startswith("v") for v in page.locator("#history-body td.version").all_inner_texts()[:4])
    # The text is kept on this server: no note says otherwise.
    assert page.is_hidden("#text-note")
    shot(page, "history")


def _stored_texts(server):
    """Return the tweet texts the server's history lists (it keeps them: API_HISTORY_TEXT)."""
    status, _, body = request(
        server.url + "/api/v1/predictions?limit=1000", server.context, token=server.token
    )
    assert status == 200, body
    return {row.get("text") for row in body["predictions"]}
