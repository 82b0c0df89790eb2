"""The models as the app serves them: every model of the manifest, loaded and verified once, at start-up."""

from collections.abc import Callable

from model.errors import ArtifactError
from model.serving import artifacts
from model.serving.chunks import score_in_chunks
from model.serving.labels import label_of, sigmoid

ALL = "all"


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
        return self.shape(tweets, self.score(tweets, name), name, detail)

    def names(self, name=None):
        """Return the models ``name`` selects: the default for None, every model for ``all``."""
        return list(self.models) if name == ALL else [name or self.default]

    def score(self, tweets, name=None, between: Callable[[], None] | None = None, chunk_seconds=0.01):
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
                scores[n] = model.decision_function(texts).tolist()
            else:
                scores[n] = score_in_chunks(
                    lambda chunk, m=model: m.decision_function(chunk).tolist(), texts, chunk_seconds, between
                )
        return scores

    @staticmethod
    def shape(tweets, scores, name=None, detail=False):
        """Return the answer to ``tweets`` from the log-odds of ``score``, as ``predict`` describes."""
        answers = {n: _answer(s, detail) for n, s in scores.items()}
        if name != ALL:
            return dict(zip(tweets, next(iter(answers.values())), strict=True))
        return {key: {n: answers[n][i] for n in answers} for i, key in enumerate(tweets)}


def _answer(scores, detail):
    """Return one model's labels, or label-and-score objects, for its log-odds ``scores``."""
    # Labels and scores come from the same log-odds, so they can never disagree.
    if not detail:
        return [label_of(score) for score in scores]
    return [{"label": label_of(score), "score": sigmoid(score)} for score in scores]
