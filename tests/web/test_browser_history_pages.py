"""The history page as a new user reads it (issue 18's first hour): an id column that matches the tweets
sent, model and version columns, one note (not a marker in every row) when the server keeps no text,
and pages beyond the first rows: one request per page, following the API's `next` cursor.

The server keeps no tweet text (the default); rows are made through the API with known ids, and the
page is compared with what GET /api/v1/predictions itself lists. Chromium and its tab are
tests/web/test_browser.py's.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e import request, running_server, wait_until
from tests.web import test_browser as chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

browser = chromium.browser
expected_errors = chromium.expected_errors
page = chromium.page

# Three requests of 15 tweets: 45 rows, beyond two pages of 20.
REQUESTS = 3
PER_REQUEST = 15
PAGE = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server whose history keeps no text (the default), holding REQUESTS x PER_REQUEST rows."""
    tmp = tmp_path_factory.mktemp("browser-history")
    with running_server(tmp, env={"API_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}"}) as live:
        for batch in range(REQUESTS):
            body = {f"tw-{batch}-{i:02d}": f"tweet {i} of batch {batch}, lovely" for i in range(PER_REQUEST)}
            status, _, answer = request(
                live.url + "/api/v1/predict", live.context, body=body, token=live.token
            )
            assert status == 200, answer
        wait_until(lambda: len(_listed(live)) == REQUESTS * PER_REQUEST, "every row in the history")
        yield live


def _listed(server):
    """Return GET /api/v1/predictions?limit=1000's rows: the order and values the page must show."""
    status, _, body = request(
        server.url + "/api/v1/predictions?limit=1000", server.context, token=server.token
    )
    assert status == 200, body
    return body["predictions"]


def _open(page, server):
    """Open /history with the token in the tab, pages of PAGE rows; wait for the rows."""
    page.goto(server.url + "/history")
    page.fill("#token", server.token)
    page.select_option("#limit", str(PAGE))
    page.click("#load")
    page.locator("#status").filter(has_text="loaded").wait_for()


def _column(page, name):
    """Return the shown cells of column ``name`` (its class)."""
    return page.locator(f"#history-body td.{name}").all_inner_texts()


def test_rows_show_the_id_sent_with_model_and_version(page, server):
    listed = _listed(server)
    _open(page, server)
    assert _column(page, "id") == [row["id"] for row in listed[:PAGE]]
    assert _column(page, "model") == [row["model"] for row in listed[:PAGE]]
    assert _column(page, "version") == [row["version"] for row in listed[:PAGE]]
    head = page.locator("#history thead th").all_inner_texts()
    assert [text.lower() for text in head[:2]] == ["id", "tweet"]
    assert {"model", "version"} <= {text.lower() for text in head}


def test_no_kept_text_is_said_once_above_the_table_not_in_every_row(page, server):
    _open(page, server)
    note = page.locator("#text-note")
    assert note.is_visible()
    assert "does not keep tweet texts" in note.inner_text()
    cells = page.locator("#history-body td.tweet")
    assert cells.count() == PAGE
    assert set(cells.all_inner_texts()) == {""}
    assert page.locator("#history-body td.not-kept").count() == PAGE
    assert "not kept" not in page.inner_text("#history-body")
    chromium.shot(page, "history-no-text")


def _asked(url):
    """Return the (limit, before) of a GET /api/v1/predictions the page sent; before None if absent."""
    query = parse_qs(urlsplit(url).query)
    assert set(query) <= {"limit", "before"}, url
    return int(query["limit"][0]), int(query["before"][0]) if "before" in query else None


def _shown(page, text):
    """Wait until the pager says ``text`` and the status line that the page loaded; return its ids."""
    expect(page.locator("#page-text")).to_have_text(text)
    expect(page.locator("#status")).to_contain_text("loaded")
    return _column(page, "id")


def test_pages_are_read_a_request_at_a_time_following_the_cursor_and_back(page, server):
    ids = [row["id"] for row in _listed(server)]
    sent = []
    page.on("request", lambda req: sent.append(req.url) if "/api/v1/predictions" in req.url else None)
    _open(page, server)
    assert page.is_disabled("#previous")
    pages = []
    for start in range(0, len(ids), PAGE):
        pages.append(_shown(page, f"Rows {start + 1}-{min(start + PAGE, len(ids))}"))
        if start + PAGE < len(ids):
            page.click("#next")
    assert page.is_disabled("#next")
    # Every row once, newest first, across the pages: none repeated, none missing.
    assert [row for shown in pages for row in shown] == ids
    assert pages == [ids[start : start + PAGE] for start in range(0, len(ids), PAGE)]
    # One request per page of PAGE rows, each but the first from the previous answer's cursor.
    forward = [_asked(url) for url in sent]
    assert [limit for limit, _ in forward] == [PAGE] * len(pages)
    assert forward[0][1] is None
    cursors = [before for _, before in forward[1:]]
    assert all(cursor is not None for cursor in cursors) and cursors == sorted(cursors, reverse=True)

    # Back, page by page, to the newest: the same rows as on the way out, read again with the same cursors.
    sent.clear()
    for number in range(len(pages) - 2, -1, -1):
        page.click("#previous")
        start = number * PAGE
        assert _shown(page, f"Rows {start + 1}-{start + PAGE}") == pages[number]
    assert page.is_disabled("#previous") and not page.is_disabled("#next")
    assert [_asked(url) for url in sent] == list(reversed(forward[:-1]))

    # A new page size starts again from the newest row, in one request of that size.
    sent.clear()
    page.select_option("#limit", "50")
    assert _shown(page, f"Rows 1-{len(ids)}") == ids
    assert [_asked(url) for url in sent] == [(50, None)]
    assert page.is_disabled("#next") and page.is_disabled("#previous")
