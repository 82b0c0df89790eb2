"""What the client's calls return: typed views of the API's JSON answers."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Predictions:
    """A predict's answers, merged over the requests it took, in the order of the tweets given.

    ``answers``: id -> the API's answer for it (a label; with ``detail``/``explain`` or ``model="all"``,
    the object the API gives). ``models``: ``X-Model``, the model(s) that answered. ``versions``:
    each ``X-Model-Version`` seen, in order (two only if a model was reloaded between requests).
    ``requests``: how many predicts it took.
    """

    answers: dict[str, Any]
    models: tuple[str, ...]
    versions: tuple[str, ...]
    requests: int

    def labels(self) -> list[Any]:
        """Return the answers alone, in the order of the tweets (for a list given to predict)."""
        return list(self.answers.values())


@dataclass(frozen=True)
class Model:
    """A served model as ``GET /api/v1/models`` describes it; ``info`` is its whole JSON."""

    name: str
    version: str
    default: bool
    info: dict[str, Any]

    @classmethod
    def of(cls, info: dict[str, Any]) -> "Model":
        """Return the Model of one entry of the API's list."""
        return cls(str(info["name"]), str(info["version"]), bool(info.get("default")), info)


@dataclass(frozen=True)
class StoredPrediction:
    """One row of the prediction history (``GET /api/v1/predictions``); ``text`` if the server keeps it."""

    id: str
    label: str
    score: float
    model: str
    version: str
    token: str
    created: str
    text: str | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "StoredPrediction":
        """Return the StoredPrediction of one row of the API's answer."""
        return cls(
            str(row["id"]),
            str(row["label"]),
            float(row["score"]),
            str(row["model"]),
            str(row["version"]),
            str(row["token"]),
            str(row["created"]),
            None if row.get("text") is None else str(row["text"]),
        )
