"""The form page's model list and results, as a new user meets them (issue 18's first hour).

The model list comes with the page (no token needed, one default, no "server default" beside it); the
results name the model that answered (X-Model); "compare models" asks ``?model=all`` and shows a column
per model; "Download CSV" saves what is shown; a new problem clears the results of an earlier answer.
Chromium, its tab and the form helpers are tests/web/test_browser.py's.
"""

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e import request, running_server
from tests.web import test_browser as chromium
from tests.web.test_browser import MAX_ITEMS, NEGATIVE, POSITIVE, enter_token, label_tweets, open_form

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

browser = chromium.browser
expected_errors = chromium.expected_errors
page = chromium.page

# A comma and quotes to escape, and one a spreadsheet would run as a formula.
AWKWARD = 'she said "fine, whatever", great day'
FORMULA = "=HYPERLINK(1) love it"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server with a small item limit and no history (these tests read none)."""
    tmp = tmp_path_factory.mktemp("browser-page")
    with running_server(tmp, env={"API_MAX_ITEMS": str(MAX_ITEMS), "API_HISTORY_URL": "none"}) as live:
        yield live


def _served(server):
    """Return the API's /api/v1/models answer: the served models and the default."""
    status, _, body = request(server.url + "/api/v1/models", server.context, token=server.token)
    assert status == 200, body
    return body


def _api_answer(server, tweets, model):
    """Ask the API itself for ``?model=<model>&detail=true`` of ``tweets`` keyed by line number."""
    body = {str(number): text for number, text in enumerate(tweets, 1)}
    url = f"{server.url}/api/v1/predict?detail=true&store=false&model={model}"
    status, headers, answer = request(url, server.context, body=body, token=server.token)
    assert status == 200, answer
    return headers, answer


def _options(page, selector):
    """Return the (value, text) of each option of ``selector``."""
    script = "options => options.map(o => [o.value, o.textContent.trim()])"
    found = page.eval_on_selector_all(selector, script)
    return [tuple(option) for option in found]


def test_the_model_list_comes_with_the_page_one_default_no_token_needed(page, server):
    asked = []
    page.on("request", lambda sent: asked.append(sent.url) if "/api/v1/models" in sent.url else None)
    open_form(page, server)
    served = _served(server)
    names = [model["name"] for model in served["models"]]
    expected = [(name, f"{name} (default)" if name == served["default"] else name) for name in names]
    assert _options(page, "#model option") == expected
    assert page.eval_on_selector("#model", "select => select.value") == served["default"]
    # The upload form offers the same list; nothing was asked of the API without a token.
    assert _options(page, "#job-model option") == expected
    assert asked == []

    enter_token(page, server.token)
    texts = [text for _, text in _options(page, "#model option")]
    assert sum("(default)" in text for text in texts) == 1
    assert not any("server default" in text for text in texts)
    assert all("accuracy" in text for text in texts)


def test_the_results_name_the_model_that_answered(page, server):
    open_form(page, server)
    enter_token(page, server.token)
    page.select_option("#model", "nblr")
    label_tweets(page, server, [POSITIVE])
    headers, _ = _api_answer(server, [POSITIVE], "nblr")
    assert headers["X-Model"] == "nblr"
    assert page.inner_text("#answered-by") == f"Answered by nblr {headers['X-Model-Version']}."


def test_compare_models_shows_a_column_per_model(page, server):
    tweets = [POSITIVE, NEGATIVE, "not bad at all"]
    open_form(page, server)
    enter_token(page, server.token)
    page.check("#compare")
    assert page.is_disabled("#model") and page.is_disabled("#explain")
    with page.expect_request(lambda sent: "/api/v1/predict" in sent.url) as sent:
        rows = label_tweets(page, server, tweets)
    assert parse_qs(urlsplit(sent.value.url).query)["model"] == ["all"]

    headers, answer = _api_answer(server, tweets, "all")
    names = headers["X-Model"].split(",")
    assert len(names) >= 2
    head = page.locator("#results-head th").all_inner_texts()
    assert [text.lower() for text in head] == ["line", "tweet"] + [
        f"{name} {part}" for name in names for part in ("label", "score")
    ]
    for number, (row, tweet) in enumerate(zip(rows, tweets, strict=True), 1):
        each = answer[str(number)]
        expected = [str(number), tweet]
        for name in names:
            expected += [each[name]["label"], f"{each[name]['score']:.3f}"]
        assert row == expected
    shares = page.locator("#shares .share p").all_inner_texts()
    assert [share.split(":")[0] for share in shares] == names
    versions = headers["X-Model-Version"].split(",")
    answered = ", ".join(f"{name} {version}" for name, version in zip(names, versions, strict=True))
    assert page.inner_text("#answered-by").startswith(f"Answered by {answered}; they disagree on ")
    chromium.shot(page, "form-compare")


def _exported(page):
    """Click "Download CSV"; return the saved file's name and its rows as dicts."""
    with page.expect_download() as download:
        page.click("#export")
    text = download.value.path().read_text(encoding="utf-8")
    return download.value.suggested_filename, list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_holds_the_results_shown(page, server):
    tweets = [POSITIVE, AWKWARD, FORMULA]
    open_form(page, server)
    enter_token(page, server.token)
    rows = label_tweets(page, server, tweets)
    name, exported = _exported(page)
    assert name.startswith("labels-") and name.endswith(".csv")
    version = page.inner_text("#answered-by").removesuffix(".").split()[-1]
    assert [(r["line"], r["model"], r["version"], r["label"]) for r in exported] == [
        (row[0], "freqlr", version, row[2]) for row in rows
    ]
    assert [f"{float(r['score']):.3f}" for r in exported] == [row[3] for row in rows]
    # Quoted as CSV needs; a formula written after a quote, so a spreadsheet shows it as text.
    assert [r["tweet"] for r in exported] == [POSITIVE, AWKWARD, "'" + FORMULA]

    page.check("#compare")
    label_tweets(page, server, [POSITIVE, NEGATIVE])
    _, exported = _exported(page)
    models = [model["name"] for model in _served(server)["models"]]
    assert [(r["line"], r["model"]) for r in exported] == [(line, m) for line in ("1", "2") for m in models]


def test_a_new_problem_clears_the_results_of_an_earlier_answer(page, server, expected_errors):
    expected_errors.append("status of 401")
    open_form(page, server)
    label_tweets(page, server, [POSITIVE])
    assert page.is_visible("#results")

    page.fill("#tweets", "")
    page.click("#submit")
    assert page.inner_text("#tweets-error") == "Enter at least one tweet, one per line."
    assert page.is_hidden("#results")
    assert page.locator("#results-body tr").count() == 0

    label_tweets(page, server, [NEGATIVE])
    page.fill("#token", "sa_wrong")
    page.click("#submit")
    page.locator("#token-error").filter(has_text="refused").wait_for()
    assert page.is_hidden("#results")
    assert page.locator("#results-body tr").count() == 0
