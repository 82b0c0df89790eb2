"""The form's "keep in history" box: unticked, the page asks with ``?store=false`` and the tweets stay
out of the history; ticked (the default), it sends no ``store`` and they are kept.

Chromium, its tab and the form helpers are tests/web/test_browser.py's; the server is this module's,
with one worker, so its history is written in the order the requests came.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e import request, running_server, wait_until
from tests.web import test_browser as chromium
from tests.web.test_browser import MAX_ITEMS, label_tweets, open_form

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# test_browser.py's fixtures, found by pytest under these names: Chromium, and a tab that fails the
# test on a console error or a CSP violation.
browser = chromium.browser
expected_errors = chromium.expected_errors
page = chromium.page

KEPT = "kept: what a lovely afternoon"
LEFT_OUT = "left out: I hate waiting in queues"
LATER = "kept later: best concert ever"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server with one worker and a history that keeps tweet text (so rows can be told apart)."""
    tmp = tmp_path_factory.mktemp("browser-store")
    env = {
        "API_MAX_ITEMS": str(MAX_ITEMS),
        "API_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}",
        "API_HISTORY_TEXT": "true",
    }
    with running_server(tmp, env=env, workers=1) as live:
        yield live


def _query_of(page, server, tweets):
    """Label ``tweets`` in the form; return the query of the predict request the page sent, parsed."""
    with page.expect_request(lambda sent: "/api/v1/predict" in sent.url) as sent:
        rows = label_tweets(page, server, tweets)
    assert [row[1] for row in rows] == tweets
    return parse_qs(urlsplit(sent.value.url).query)


def _stored_texts(server):
    """Return the tweet texts of the server's history, newest first."""
    status, _, body = request(
        f"{server.url}/api/v1/predictions?limit=1000", server.context, token=server.token
    )
    assert status == 200, body
    return [row["text"] for row in body["predictions"]]


def test_unticked_keep_in_history_sends_store_false_and_the_tweet_is_not_kept(page, server):
    open_form(page, server)
    assert page.is_checked("#store")  # kept by default
    assert "store" not in _query_of(page, server, [KEPT])

    page.uncheck("#store")
    assert _query_of(page, server, [LEFT_OUT])["store"] == ["false"]

    page.check("#store")
    assert "store" not in _query_of(page, server, [LATER])

    # One worker writes its requests in order: once the later one is stored, the left-out one
    # would be too, had it been sent for keeping.
    texts = wait_until(lambda: LATER in (t := _stored_texts(server)) and t, "the later tweet in the history")
    assert texts == [LATER, KEPT]
