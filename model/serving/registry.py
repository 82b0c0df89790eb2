"""The models as the app serves them: one verified set of the manifest's models, swapped whole on a reload.

A request takes the current set once (``ModelRegistry.current``) and uses it to the end: a reload
that swaps another set in meanwhile never gives it one model's answer and another's version.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NotRequired, Self, TypedDict

from model.errors import ArtifactError
from model.paths import AnyPath
from model.serving import artifacts
from model.serving.base import JSONObject, TweetClassifier
from model.serving.chunks import score_in_chunks
from model.serving.labels import label_of, sigmoid

ALL = "all"
# Scored once by every model of a new set before it serves: the first request should not pay for imports.
WARM_UP = "warm-up: the first request should not pay for imports :)"


class ModelInfo(TypedDict):
    """What the app tells about one model (``/api/v1/models``, metrics, health)."""

    name: str
    version: str
    kind: str
    default: bool
    metrics: JSONObject
    training_data: JSONObject
    # The held-out distribution drift is measured against (the manifest entry's), when it has one.
    reference: NotRequired[JSONObject]


class Detail(TypedDict):
    """One tweet's answer with ``detail``: its label and P(Positive), from the same log-odds."""

    label: str
    score: float


# One model's answer to one tweet: its label, or its label and score.
Answer = str | Detail


@dataclass(frozen=True)
class ModelSet:
    """One verified set of models, their descriptions and the default: never changed once made."""

    models: Mapping[str, TweetClassifier]
    infos: Mapping[str, ModelInfo]
    default: str

    @property
    def info(self) -> ModelInfo:
        """Describe the default model."""
        return self.infos[self.default]

    def choices(self) -> list[str]:
        """Return the values ``?model=`` accepts."""
        return [*self.models, ALL]

    def names(self, name: str | None = None) -> list[str]:
        """Return the models ``name`` selects: the default for None, every model for ``all``."""
        return list(self.models) if name == ALL else [name or self.default]

    def versions(self) -> dict[str, str]:
        """Return ``{name: version}`` of every model of the set."""
        return {name: info["version"] for name, info in self.infos.items()}


def load_set(artifact_dir: AnyPath, default: str | None = None) -> ModelSet:
    """Load and verify every model of the manifest, warm each one up, and return them as one set.

    ``default`` (the operator's choice) wins over the manifest's. Raises ArtifactError naming what
    is wrong; nothing of a set that fails is ever served.
    """
    loaded, manifest_default = artifacts.load_all(artifact_dir)
    chosen = default or manifest_default
    if chosen not in loaded:
        raise ArtifactError(f"default model {chosen!r} is not in the manifest: {', '.join(loaded)}")
    models: dict[str, TweetClassifier] = {}
    infos: dict[str, ModelInfo] = {}
    for name, (model, entry) in loaded.items():
        model.predict_labels([WARM_UP])
        models[name] = model
        infos[name] = {
            "name": name,
            "version": entry["version"],
            "kind": entry["kind"],
            "default": name == chosen,
            "metrics": entry["metrics"],
            "training_data": entry["training_data"],
        }
        if isinstance(entry.get("reference"), dict):
            infos[name]["reference"] = entry["reference"]
    return ModelSet(MappingProxyType(models), MappingProxyType(infos), chosen)


class ModelRegistry:
    """The verified models of one worker; ``ready`` turns True only once a set is loaded.

    The set is replaced by one reference assignment (``swap``), so a reader sees the old set or
    the new one, whole. ``models``, ``infos``, ``default``, ``info``, ``choices`` and ``names``
    read the current set: a request that reads more than one of them takes ``current()`` once instead.
    """

    def __init__(self) -> None:
        self._set: ModelSet | None = None

    def load(self, artifact_dir: AnyPath, default: str | None = None) -> Self:
        """Load and verify every model of the manifest (see ``load_set``) and serve them."""
        self.swap(load_set(artifact_dir, default))
        return self

    def swap(self, new: ModelSet) -> ModelSet | None:
        """Serve ``new`` from now on; return the set it replaces (None at the first load)."""
        old, self._set = self._set, new
        return old

    def current(self) -> ModelSet:
        """Return the set being served; ArtifactError if none is loaded yet."""
        served = self._set
        if served is None:
            raise ArtifactError("no model is loaded yet")
        return served

    @property
    def ready(self) -> bool:
        """Whether a verified set is loaded."""
        return self._set is not None

    @property
    def models(self) -> Mapping[str, TweetClassifier]:
        """The current set's models, by name."""
        served = self._set
        return served.models if served is not None else {}

    @property
    def infos(self) -> Mapping[str, ModelInfo]:
        """The current set's descriptions, by name."""
        served = self._set
        return served.infos if served is not None else {}

    @property
    def default(self) -> str | None:
        """The current set's default model, None before the first load."""
        served = self._set
        return served.default if served is not None else None

    @property
    def info(self) -> ModelInfo:
        """Describe the current default model."""
        return self.current().info

    def choices(self) -> list[str]:
        """Return the values ``?model=`` accepts."""
        return self.current().choices()

    def names(self, name: str | None = None) -> list[str]:
        """Return the models ``name`` selects: the default for None, every model for ``all``."""
        return self.current().names(name)

    def score(
        self,
        tweets: Mapping[str, str],
        name: str | None = None,
        between: Callable[[], None] | None = None,
        chunk_seconds: float = 0.01,
        using: ModelSet | None = None,
    ) -> dict[str, list[float]]:
        """Return ``{model: [log-odds per tweet]}`` for the model(s) ``name`` selects.

        ``using``: the set the request took (default: the current one). With ``between``, scores
        about ``chunk_seconds`` of tweets at a time and calls it after each chunk (a chance to give the
        CPU to other requests, model/serving/chunks.py); the scores are those of one whole batch.
        """
        served = using if using is not None else self.current()
        texts = list(tweets.values())
        scores = {}
        for n in served.names(name):
            model = served.models[n]
            if between is None:
                scores[n] = model.log_odds(texts)
            else:
                scores[n] = score_in_chunks(model.log_odds, texts, chunk_seconds, between)
        return scores

    @staticmethod
    def shape(
        tweets: Mapping[str, str],
        scores: Mapping[str, list[float]],
        name: str | None = None,
        detail: bool = False,
    ) -> dict[str, Answer] | dict[str, dict[str, Answer]]:
        """Return the answer to ``tweets`` (id -> text) from the log-odds of ``score``, in its key order.

        One model: ``{id: label}``, or ``{id: {"label", "score"}}`` with detail;
        ``name="all"``: ``{id: {model: label or {"label", "score"}}}``.
        """
        answers = {n: _answer(s, detail) for n, s in scores.items()}
        if name != ALL:
            return dict(zip(tweets, next(iter(answers.values())), strict=True))
        return {key: {n: answers[n][i] for n in answers} for i, key in enumerate(tweets)}


def _answer(scores: list[float], detail: bool) -> list[Answer]:
    """Return one model's labels, or label-and-score objects, for its log-odds ``scores``."""
    # Labels and scores come from the same log-odds, so they can never disagree.
    if not detail:
        return [label_of(score) for score in scores]
    return [{"label": label_of(score), "score": sigmoid(score)} for score in scores]
