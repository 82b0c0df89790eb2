"""Web pages: a form to label tweets and a history of predictions, served over the API's own TLS.

The pages are public; their scripts call the API with the bearer token the
user types, kept in the tab's sessionStorage only.
"""

from flask import Blueprint, Response, current_app, make_response, render_template

from api.web import extensions as ext

bp = Blueprint("web", __name__)

# Scripts, styles and data from this origin only, none inline: a tweet that
# slips into the page as markup can run nothing. Set on the page responses so
# api.security's setdefault keeps it instead of the API's `default-src 'none'`.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _models() -> list[tuple[str, bool]]:
    """Return each served model's name and whether it is the default, in the registry's order.

    Public, unlike /api/v1/models (versions, metrics): the form lists the models before any token is typed.
    """
    served = ext.MODEL.of(current_app).current()
    return [(name, name == served.default) for name in served.models]


def _page(name: str) -> Response:
    """Render page ``name`` (its template and its script share the name) with the pages' CSP."""
    page = render_template(f"{name}.html", script=f"{name}.js", active=name, models=_models())
    response = make_response(page)
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
