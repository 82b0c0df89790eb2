"""The web app: a Flask application factory, its blueprints and the request's checks."""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from api import constants as c
from api.settings import Settings

log = logging.getLogger(__name__)


class OrderedJSON(DefaultJSONProvider):
    """Flask's JSON, keeping the keys in their order: answers keep the client's key order."""

    sort_keys = False


class App(Flask):
    """Flask, asking once per function whether it must be run as a coroutine, not on every call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ensured_sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``func`` as Flask would run it; worked out at its first call, then remembered.

        Flask asks for each hook and view of every request (fourteen a no-op request, ~1 us each
        with inspect): the answer never changes for a function, and the functions are the app's own
        views and hooks, a fixed set.
        """
        if func not in self._ensured_sync:
            self._ensured_sync[func] = super().ensure_sync(func)
        return self._ensured_sync[func]


def create_app(settings: Settings | None = None, test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: ``settings`` (default: from the environment), model loaded and verified.

    ``test_config`` sets Flask's own keys (TESTING, say); every setting of ours is a field of Settings.

    Raises ``model.errors.ArtifactError`` when the model is missing or altered,
    so a server never starts with a model it cannot vouch for.
    """
    # Imported here, as in Flask's tutorial: importing the package loads no views and no model code.
    from api import security
    from api.history import extension as history
    from api.web import (
        auth,
        budget,
        docs,
        errors,
        fairness,
        feedback,
        health,
        jobs,
        limits,
        metrics,
        pages,
        predict,
        reload,
        requestid,
        shadow,
        swagger,
        verified,
    )
    from api.web import extensions as ext
    from model.serving.registry import ModelRegistry

    app = App(__name__, instance_relative_config=True)
    # No routing redirects: werkzeug answers "/api//v1/predict" with a 308 to the merged path on the
    # Host the client named, as HTML, and Flask sends it without our error handlers. Unmerged, such a
    # path is a JSON 404. strict_slashes stays on (off, "/api/v1/predict/" would be served as the
    # route); the one redirect it can still make, an empty path to "/", errors.py turns into a 404.
    app.url_map.merge_slashes = False
    settings = settings if settings is not None else Settings()
    app.extensions[c.EXT_SETTINGS] = settings
    if test_config is not None:
        app.config.from_mapping(test_config)
    # Flask's cap is the setting's, always: one statement of the limit.
    app.config["MAX_CONTENT_LENGTH"] = settings.MAX_BODY_BYTES
    # Answers keep the client's key order; Flask sorts keys by default.
    app.json = OrderedJSON(app)

    errors.init_app(app)
    health.init_app(app)
    # Flask's way to wrap an app in WSGI middleware: its wsgi_app, replaced. The request id is given there.
    app.wsgi_app = security.SecureHeaders(app.wsgi_app)  # type: ignore[method-assign]
    # Before the limiter's hooks: a 429 too has its route in the access log and is counted.
    requestid.init_app(app)
    metrics.init_app(app)
    auth.init_app(app)
    # Probes must answer however busy a client is.
    limiter = limits.init_app(app, protected=(predict.bp, jobs.bp, metrics.bp, feedback.bp))
    limiter.exempt(health.bp)
    budget.init_app(app, limiter)
    fairness.init_app(app)

    registry = ext.MODEL.put(app, ModelRegistry())
    # The watch stamps the manifest before the load: a new one written meanwhile is loaded at its first look.
    kept = settings.VERIFIED_MODELS_DIR
    reload.init_app(
        app, registry, settings.ARTIFACTS_DIR, settings.MODEL, settings.MODEL_RELOAD_SECONDS, kept
    )
    # A worker that starts while the folder fails (replacing one that died) serves the last verified set.
    verified.load(registry, settings.ARTIFACTS_DIR, settings.MODEL, kept)
    shadow.init_app(app, registry, settings.SHADOW_MODEL)
    for info in registry.infos.values():
        log.info(
            "model %s %s loaded%s", info["name"], info["version"], " (default)" if info["default"] else ""
        )

    # After the model: a history that cannot even be configured must not hide a model error.
    history.init_app(app)
    feedback.init_app(app)
    jobs.init_app(app)
    metrics.attach(app)

    app.register_blueprint(health.bp)
    app.register_blueprint(predict.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(swagger.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(metrics.bp)
    return app
