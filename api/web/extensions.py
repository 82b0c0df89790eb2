"""Typed keys to the objects create_app keeps per app in ``app.extensions`` (a dict of Any to mypy).

``MODEL.of(current_app)`` is a ModelRegistry to the type checker; the names of the keys stay in
api/constants.py. A module's own object has its key beside its class (budget.WORK_BUDGET, say),
so that this module imports none of them. Each key is a constant: the objects live in their app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from flask import Flask

from api import constants as c

if TYPE_CHECKING:  # the modules that define these classes import this one
    from api.history.extension import UnknownShares
    from api.ops.tokens import TokenStore
    from model.serving.registry import ModelRegistry

T = TypeVar("T")


class History(Protocol):
    """What the views ask of the prediction history, whichever class of api/history keeps it."""

    def record(
        self,
        token: str,
        tweets: dict[str, str],
        scores: dict[str, list[float]],
        versions: dict[str, str],
        models: Mapping[str, UnknownShares] | None = None,
    ) -> None:
        """Queue one request's scored tweets for writing, with a sample's unknown-token shares per model."""

    def recent(
        self, limit: int, token: str | None = None, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Return the newest ``limit`` rows below row id ``before`` (``token``'s), and the next ``before``."""


@dataclass(frozen=True)
class Key(Generic[T]):
    """The key of one per-app object, and its type."""

    name: str

    def of(self, app: Flask) -> T:
        """Return ``app``'s object; KeyError if create_app has not made it (a bug, not a client's error)."""
        value: T = app.extensions[self.name]
        return value

    def get(self, app: Flask) -> T | None:
        """Return ``app``'s object, or None if it has none yet."""
        value: T | None = app.extensions.get(self.name)
        return value

    def put(self, app: Flask, value: T) -> T:
        """Keep ``value`` as ``app``'s object; return it."""
        app.extensions[self.name] = value
        return value


MODEL: Key[ModelRegistry] = Key(c.EXT_MODEL)
TOKENS: Key[TokenStore] = Key(c.EXT_TOKENS)
# None: the server keeps no prediction history (API_HISTORY_URL=none).
HISTORY: Key[History | None] = Key(c.EXT_HISTORY)
# The app's OpenAPI document, built on first request (api/web/docs.py).
OPENAPI: Key[dict[str, object]] = Key(c.EXT_OPENAPI)
