"""The models as the app serves them: every model of the manifest, loaded and verified once, at start-up."""

import math

from model import artifacts
from model.errors import ArtifactError

ALL = "all"
LABELS = ("Negative", "Positive")


class ModelRegistry:
    """The verified models of one worker, by name; ``ready`` turns True only after ``load``."""

    def __init__(self):
        self.ready = False
        self.models = {}
        self.infos = {}
        self.default = None

    def load(self, artifact_dir, default=None):
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
    def info(self):
        """Describe the default model."""
        return self.infos[self.default]

    def choices(self):
        """Return the values ``?model=`` accepts."""
        return [*self.models, ALL]

    def predict(self, tweets, name=None, detail=False):
        """Answer ``tweets`` (a dict id -> text) in its key order.

        One model: ``{id: label}``, or ``{id: {"label", "score"}}`` with detail;
        ``name="all"``: ``{id: {model: label or {"label", "score"}}}``.
        """
        names = list(self.models) if name == ALL else [name or self.default]
        texts = list(tweets.values())
        answers = {n: self._answer(self.models[n], texts, detail) for n in names}
        if name != ALL:
            return dict(zip(tweets, answers[names[0]], strict=True))
        return {key: {n: answers[n][i] for n in names} for i, key in enumerate(tweets)}

    @staticmethod
    def _answer(model, texts, detail):
        """Return one model's labels, or label-and-score objects, for ``texts``."""
        # Labels and scores come from the same log-odds, so they can never disagree.
        scores = model.decision_function(texts).tolist()
        if not detail:
            return [LABELS[score > 0] for score in scores]
        return [{"label": LABELS[score > 0], "score": _sigmoid(score)} for score in scores]


def _sigmoid(score):
    """Return P(Positive) for a log-odds score, without overflow for large negative scores."""
    if score >= 0:
        return 1.0 / (1.0 + math.exp(-score))
    odds = math.exp(score)
    return odds / (1.0 + odds)
