"""/docs: Swagger UI over this API's own OpenAPI document, its files served by the app itself.

Swagger UI's built files come from the pinned flask-swagger-ui package (its ``dist/`` folder only: the
package's own blueprint starts Swagger UI from an inline script, which our CSP refuses). The files are
served under a path that names their version, so a browser may keep them for a year; the page's own
start-up is api/web/static/docs.js.
"""

from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Response, make_response, render_template

# Swagger UI's built files, and their version as the package states it ("v5.34.0").
DIST = Path(str(files("flask_swagger_ui") / "dist"))
VERSION = (DIST / "VERSION").read_text(encoding="utf-8").strip().removeprefix("v")
# Versioned: a new Swagger UI is a new URL, so an old copy in a cache is never used for it.
ASSETS_PATH = f"/docs/assets/{VERSION}"
ASSETS_MAX_AGE = 365 * 24 * 3600

# The pages' CSP (api/web/pages.py) and one addition: Swagger UI's stylesheet draws its icons (the
# select arrow, the check marks) as data: SVG images. Scripts stay 'self' only, no inline or eval;
# styles stay 'self' (Swagger UI sets element styles through the DOM, which style-src does not govern).
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class _VersionedFiles(Blueprint):
    """A blueprint whose static files, under a versioned path, may be cached for good."""

    def get_send_file_max_age(self, filename: str | None) -> int:
        """Return a year: the URL changes with the version, the file under it never does."""
        return ASSETS_MAX_AGE

    def send_static_file(self, filename: str) -> Response:
        """Send ``filename``, marked immutable: no revalidation on reload."""
        response = super().send_static_file(filename)
        response.cache_control.immutable = True
        return response


# Its files' endpoint is "swagger.static": flask-limiter exempts static endpoints, as it does /static/.
bp = _VersionedFiles("swagger", __name__, static_folder=DIST, static_url_path=ASSETS_PATH)


@bp.get("/docs")
def docs() -> Response:
    """The interactive documentation: every operation, "Authorize" with a token, "Try it out"."""
    response = make_response(render_template("docs.html", version=VERSION))
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response
