"""The history page's live accuracy table, in a real headless Chromium against a live server (Playwright)."""

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e import request, running_server, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
TWEETS = {"a": "I love this, what a great day", "b": "worst service ever, so angry", "c": "so happy today"}


def test_the_history_page_shows_each_models_live_accuracy(tmp_path):
    with running_server(tmp_path, workers=1) as server:
        url = f"{server.url}/api/v1/predict?model=all"
        status, _, answers = request(url, server.context, body=TWEETS, token=server.token)
        assert status == 200
        # The truth: freqlr's labels for a and b, the other label for c.
        flip = {"Positive": "Negative", "Negative": "Positive"}
        truth = {
            key: answers[key]["freqlr"] if key != "c" else flip[answers[key]["freqlr"]] for key in TWEETS
        }
        wait_until(
            lambda: (
                request(f"{server.url}/api/v1/feedback", server.context, body=truth, token=server.token)[0]
                == 200
            ),
            "the feedback accepted once the history holds the predictions",
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(ignore_https_errors=True).new_page()
                page.goto(f"{server.url}/history")
                page.fill("#token", server.token)

                # Each worker keeps its read a few seconds: reload until the table shows the feedback.
                def table():
                    page.click("#load")
                    page.locator("#status").filter(has_text="shown").wait_for()
                    rows = page.locator("#accuracy-body tr").all()
                    return page.is_visible("#accuracy") and [r.locator("td").all_inner_texts() for r in rows]

                rows = wait_until(table, "the live accuracy table on the history page", timeout=60)
            finally:
                browser.close()
    by_model = {cells[0]: cells for cells in rows}
    right = {m: sum(answers[k][m] == truth[k] for k in TWEETS) for m in ("freqlr", "nblr")}
    assert by_model["freqlr"][2:] == ["3", "66.7%"]
    assert by_model["nblr"][2:] == ["3", f"{100 * right['nblr'] / 3:.1f}%"]
    assert by_model["freqlr"][1].startswith("v")
