"""The models as the app serves them: every model of the manifest, loaded and verified once, at start-up."""

from collections.abc import Callable, Mapping
from typing import Self, TypedDict

from model.errors import ArtifactError
from model.paths import AnyPath
from model.serving import artifacts
from model.serving.base import JSONObject, TweetClassifier
from model.serving.chunks import score_in_chunks
from model.serving.labels import label_of, sigmoid

ALL = "all"


class ModelInfo(TypedDict):
    """What the app tells about one model (``/api/v1/models``, metrics, health)."""

    name: str
    version: str
    kind: str
    default: bool
    metrics: JSONObject
    training_data: JSONObject


class Detail(TypedDict):
    """One tweet's answer with ``detail``: its label and P(Positive), from the same log-odds."""

    label: str
    score: float


# One model's answer to one tweet: its label, or its label and score.
Answer = str | Detail


class ModelRegistry:
    """The verified models of one worker, by name; ``ready`` turns True only after ``load``."""

    def __init__(self) -> None:
        self.ready = False
        self.models: dict[str, TweetClassifier] = {}
        self.infos: dict[str, ModelInfo] = {}
        self.default: str | None = None

    def load(self, artifact_dir: AnyPath, default: str | None = None) -> Self:
        """Load and verify every model of the manifest, then warm each one's caches with a prediction."""
        loaded, manifest_default = artifacts.load_all(artifact_dir)
        self.default = default or manifest_default
        if self.default not in loaded:
            raise ArtifactError(f"default model {self.default!r} is not in the manifest: {', '.join(loaded)}")
        for name, (model, entry) in loaded.items():
            model.predict_labels(["warm-up: the first request should not pay for imports :)"])
            self.models[name] = model
            self.infos[name] = {
                "name": name,
                "version": entry["version"],
                "kind": entry["kind"],
                "default": name == self.default,
                "metrics": entry["metrics"],
                "training_data": entry["training_data"],
            }
        self.ready = True
        return self

    @property
    def info(self) -> ModelInfo:
        """Describe the default model."""
        return self.infos[self._default()]

    def choices(self) -> list[str]:
        """Return the values ``?model=`` accepts."""
        return [*self.models, ALL]

    def names(self, name: str | None = None) -> list[str]:
        """Return the models ``name`` selects: the default for None, every model for ``all``."""
        return list(self.models) if name == ALL else [name or self._default()]

    def score(
        self,
        tweets: Mapping[str, str],
        name: str | None = None,
        between: Callable[[], None] | None = None,
        chunk_seconds: float = 0.01,
    ) -> dict[str, list[float]]:
        """Return ``{model: [log-odds per tweet]}`` for the model(s) ``name`` selects.

        With ``between``, scores about ``chunk_seconds`` of tweets at a time and calls it
        after each chunk (a chance to give the CPU to other requests, model/serving/chunks.py); the
        scores are those of one whole batch.
        """
        texts = list(tweets.values())
        scores = {}
        for n in self.names(name):
            model = self.models[n]
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

    def _default(self) -> str:
        """Return the default model's name, which ``load`` sets."""
        if self.default is None:
            raise ArtifactError("no model is loaded yet")
        return self.default


def _answer(scores: list[float], detail: bool) -> list[Answer]:
    """Return one model's labels, or label-and-score objects, for its log-odds ``scores``."""
    # Labels and scores come from the same log-odds, so they can never disagree.
    if not detail:
        return [label_of(score) for score in scores]
    return [{"label": label_of(score), "score": sigmoid(score)} for score in scores]
