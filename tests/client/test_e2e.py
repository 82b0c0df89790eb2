"""The client against a real server: the README's example as written, and every endpoint it calls."""

import contextlib
import io
import re

import pytest

from api.client import TOKEN_ENV, Client, ClientError
from tests.e2e import BODY, LABELS, ROOT, wait_until

README = ROOT / "README.md"
SECTION = "### Python client"
EXAMPLE_URL, EXAMPLE_CA = "https://localhost:5000", "certs/ca.crt"


def readme_example():
    """Return the first ```python block of the README's Python client section."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    found = re.search(r"```python\n(.*?)```", text[text.index(SECTION) :], re.DOTALL)
    assert found, f"no python example under {SECTION!r}"
    return found[1]


@pytest.mark.e2e
def test_the_readme_example_runs_as_written(live, monkeypatch):
    code = readme_example()
    assert EXAMPLE_URL in code and EXAMPLE_CA in code
    code = code.replace(EXAMPLE_URL, live.url).replace(EXAMPLE_CA, str(live.certs / "ca.crt"))
    monkeypatch.setenv(TOKEN_ENV, live.token)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the README's own example, as a reader runs it
    first = out.getvalue().splitlines()[0]
    assert first.index("'Positive'") < first.index("'Negative'"), first


@pytest.mark.e2e
def test_models_and_the_default(live_client):
    models = live_client.models()
    assert {model.name for model in models} == {"freqlr", "nblr"}
    (default,) = [model for model in models if model.default]
    assert live_client.model().name == default.name


@pytest.mark.e2e
def test_stored_predictions_take_feedback(live_client):
    ids = {f"fb-{key}": text for key, text in BODY.items()}
    assert live_client.predict(ids).answers == {f"fb-{key}": LABELS[key] for key in BODY}

    # History is written asynchronously: the rows appear tens of milliseconds after the answer.
    def stored():
        rows = [row for row in live_client.predictions(limit=100) if row.id in ids]
        return rows if {row.id for row in rows} == ids.keys() else None

    rows = wait_until(stored, "both predictions in the history")
    assert {row.id: row.label for row in rows} == {f"fb-{k}": LABELS[k] for k in BODY}
    assert live_client.feedback({f"fb-{key}": label for key, label in LABELS.items()}) == len(ids)
    # The server reads live accuracy from the database at most every few seconds (api/history/monitor.py).
    wait_until(
        lambda: any(entry["feedback"] >= len(ids) for entry in live_client.accuracy()["models"]),
        "the feedback counted in the live accuracy",
    )


@pytest.mark.e2e
def test_an_api_error_carries_its_status_code_and_key(live_client):
    with pytest.raises(ClientError) as refused:
        live_client.feedback({"never-scored": "Positive"})
    error = refused.value
    assert (error.status, error.code, error.key) == (404, "unknown_prediction", "never-scored")


@pytest.mark.e2e
def test_a_wrong_token_is_a_401_not_a_retry(live):
    with pytest.raises(ClientError, match="HTTP 401 unauthorized"):
        Client(live.url, "sa_not-a-token", cafile=live.certs / "ca.crt").models()


@pytest.mark.e2e
def test_history_walks_every_stored_row_once_newest_first_across_pages(live_client):
    ids = {f"walk-{n}": "what a lovely day" for n in range(7)}
    live_client.predict(ids)
    wait_until(lambda: ids.keys() <= {row.id for row in live_client.predictions(limit=1000)}, "rows stored")
    walked = list(live_client.history(page=3))
    assert [row.id for row in walked] == [row.id for row in live_client.predictions(limit=1000)]
    assert len({(row.id, row.created, row.model) for row in walked}) == len(walked)
    first = live_client.predictions(limit=3)
    assert [row.id for row in walked[:3]] == [row.id for row in first]
