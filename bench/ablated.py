"""Our app, less the per-request hooks of the parts make bench's ablation names (bench/ablation.py).

Built as wsgi.py builds it, then the named parts' hooks are taken off Flask's lists: "metrics"
(counting and timing each request) and "limits" (the request limits' check and headers). A hook
named here that the app no longer registers is an error, so the ablation never measures a part
as free because it was renamed. Served by
``gunicorn --config python:bench.ablated_conf 'bench.ablated:build()'``.
"""

import os
from collections.abc import Callable, Iterable

from flask import Flask

from api.web import create_app
from bench.ablation import parts

# Each part's hooks, by qualified name: (before each request, after it).
HOOKS = {
    "metrics": ("Metrics.start", "Metrics.observe"),
    "limits": ("RequestLimits.check", "RequestLimits.finish"),
}


def without(app: Flask, names: Iterable[str]) -> Flask:
    """Take the hooks of ``names`` (parts, HOOKS' keys or "access") off ``app``; return it."""
    dropped = {hook for name in names for hook in HOOKS.get(name, ())}
    found: set[str] = set()
    for funcs in (app.before_request_funcs, app.after_request_funcs):
        for key, hooks in funcs.items():
            kept: list[Callable] = []
            for hook in hooks:
                name = getattr(hook, "__qualname__", "")
                if name in dropped:
                    found.add(name)
                else:
                    kept.append(hook)
            funcs[key] = kept
    missing = sorted(dropped - found)
    if missing:
        raise LookupError(f"the app registers no hook named {missing}: bench/ablated.py's HOOKS are stale")
    return app


def build() -> Flask:
    """Build the app as wsgi.py does, less the hooks of the parts the environment names."""
    return without(create_app(), parts(os.environ))
