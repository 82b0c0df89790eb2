"""Web pages: a form to label tweets and a history of predictions, served over the API's own TLS.

The pages are public; their scripts call the API with the bearer token the
user types, kept in the tab's sessionStorage only.
"""

from flask import Blueprint, Response, make_response, render_template

bp = Blueprint("web", __name__)

# Scripts, styles and data from this origin only, none inline: a tweet that
# slips into the page as markup can run nothing. Set on the page responses so
# api.security's setdefault keeps it instead of the API's `default-src 'none'`.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _page(name: str) -> Response:
    """Render page ``name`` (its template and its script share the name) with the pages' CSP."""
    response = make_response(render_template(f"{name}.html", script=f"{name}.js", active=name))
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@bp.get("/")
def index() -> Response:
    """The form: paste tweets, choose a model, see labels, scores and the positive share."""
    return _page("index")


@bp.get("/history")
def history() -> Response:
    """Recent predictions, newest first, as /api/v1/predictions returns them."""
    return _page("history")
