"""README "Web pages" claims that no other test checked: the form fields have no name (so without
JavaScript nothing, the token least of all, is submitted in a URL), and the pages' CSP is the README's."""

from html.parser import HTMLParser

import pytest

PAGES = ["/", "/history"]
# The README's words, verbatim: the CSP of the page responses.
README_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FIELDS = {"input", "textarea", "select", "button"}


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep the tag and its attributes."""
        self.tags.append((tag, dict(attrs)))


def _tags(client, path):
    """Return the start tags of the page at ``path``."""
    parser = _Tags()
    parser.feed(client.get(path).get_data(as_text=True))
    return parser.tags


@pytest.mark.parametrize("path", PAGES)
def test_no_form_field_has_a_name_and_no_form_submits_anywhere(client, path):
    tags = _tags(client, path)
    fields = [(tag, attrs) for tag, attrs in tags if tag in FIELDS]
    assert any(attrs.get("id") == "token" for _, attrs in fields), "the page has no token field"
    assert [(tag, attrs) for tag, attrs in fields if "name" in attrs] == []
    forms = [attrs for tag, attrs in tags if tag == "form"]
    assert forms
    assert all("action" not in form and "method" not in form for form in forms)


@pytest.mark.parametrize("path", PAGES)
def test_the_page_csp_is_the_one_the_readme_states(client, path):
    assert client.get(path).headers["Content-Security-Policy"] == README_CSP
