"""The form's "explain" box: the words that moved each score are marked in the results table, as the API
explains them, with their sign in more than colour, under the page's CSP, tweet text never made markup.

Chromium, its tab, the server and the form helpers are tests/web/test_browser.py's.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e import request
from tests.web import test_browser as chromium
from tests.web.test_browser import MARKUP, NEGATIVE, POSITIVE, label_tweets, open_form, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# test_browser.py's fixtures, found by pytest under these names: Chromium, a tab that fails the test on a
# console error or a CSP violation, and a live server (this module's own instance of it).
browser = chromium.browser
expected_errors = chromium.expected_errors
page = chromium.page
server = chromium.server

# A tweet whose words pull both ways, so that both kinds of mark show.
MIXED = "I love the new phone but the battery is awful"
TWEETS = [POSITIVE, NEGATIVE, MIXED, MARKUP]
# What a mark tells in its title and in the line under the tweet.
SIGNS = {"pos": "raised", "neg": "lowered"}


def _explained(server, tweets):
    """Return the API's explanation of each of ``tweets`` (the default model), asked without the page."""
    body = {str(i): text for i, text in enumerate(tweets)}
    status, _, answer = request(
        f"{server.url}/api/v1/predict?explain=true&store=false", server.context, body=body, token=server.token
    )
    assert status == 200, answer
    return [answer[str(i)]["explanation"] for i in range(len(tweets))]


def _marks(page, row):
    """Return the marks of results row ``row`` (0-based): [(word, sign class, contribution, title)]."""
    return page.eval_on_selector_all(
        f"#results-body tr:nth-child({row + 1}) td.tweet mark",
        """marks => marks.map(m => [m.textContent, m.classList.contains("pos") ? "pos" :
            m.classList.contains("neg") ? "neg" : "", Number(m.dataset.contribution), m.title])""",
    )


def test_explained_results_mark_the_words_the_api_names_with_their_sign(page, server):
    open_form(page, server)
    page.check("#explain")
    with page.expect_request(lambda sent: "/api/v1/predict" in sent.url) as sent:
        rows = label_tweets(page, server, TWEETS)
    assert parse_qs(urlsplit(sent.value.url).query)["explain"] == ["true"]
    assert [row[2] for row in rows[:2]] == ["Positive", "Negative"]

    explanations = _explained(server, TWEETS)
    for i, (text, why) in enumerate(zip(TWEETS, explanations, strict=True)):
        tops = [*why["top_positive"], *why["top_negative"]]
        expected = sorted(
            (top["word"], "pos" if top["contribution"] > 0 else "neg", top["contribution"]) for top in tops
        )
        marks = _marks(page, i)
        assert sorted(tuple(mark[:3]) for mark in marks) == expected, text
        for _, sign, contribution, title in marks:
            assert title.startswith(f"{SIGNS[sign]} the score: "), title
            assert f"{contribution:+.2f}" in title
        # The marks change no character: the tweet reads as typed.
        cell = f"#results-body tr:nth-child({i + 1}) td.tweet"
        assert page.inner_text(f"{cell} .tweet-text") == text
        summary = page.inner_text(f"{cell} .why-summary")
        for top in why["top_positive"]:
            assert f"{top['word']} {top['contribution']:+.2f}" in summary.split("raised by ")[1]
        for top in why["top_negative"]:
            assert f"{top['word']} {top['contribution']:+.2f}" in summary.split("lowered by ")[1]

    # The known tweets: what makes them positive and negative is marked that way.
    assert {"pos"} <= {mark[1] for mark in _marks(page, 0)}
    assert {"neg"} <= {mark[1] for mark in _marks(page, 1)}
    assert {"pos", "neg"} <= {mark[1] for mark in _marks(page, 2)}
    # Markup in a tweet stays text, marked or not.
    assert page.locator("#injected").count() == 0
    assert page.title() != "1"
    assert page.locator("#results-body img, #results-body b").count() == 0
    shot(page, "form-explain")


def test_a_mark_shows_its_sign_in_more_than_colour(page, server):
    """A + or - follows each mark (the stylesheet's ::after), and the two kinds are underlined differently."""
    open_form(page, server)
    page.check("#explain")
    label_tweets(page, server, [MIXED])
    styles = page.eval_on_selector_all(
        "#results-body td.tweet mark",
        """marks => marks.map(m => [m.classList.contains("pos") ? "pos" : "neg",
            getComputedStyle(m, "::after").content, getComputedStyle(m).borderBottomStyle])""",
    )
    assert {sign for sign, _, _ in styles} == {"pos", "neg"}
    for sign, after, border in styles:
        assert (after, border) == (('"+"', "solid") if sign == "pos" else ('"\u2212"', "dashed"))


def test_without_the_box_nothing_is_explained_or_marked(page, server):
    open_form(page, server)
    with page.expect_request(lambda sent: "/api/v1/predict" in sent.url) as sent:
        rows = label_tweets(page, server, [POSITIVE, MIXED])
    assert "explain" not in parse_qs(urlsplit(sent.value.url).query)
    assert [row[1] for row in rows] == [POSITIVE, MIXED]
    assert page.locator("#results-body mark").count() == 0
    assert page.locator("#results-body .why-summary").count() == 0
