"""The model as the app serves it: loaded and verified once, at start-up."""

from model import artifacts


class SentimentService:
    """Holds one verified model per worker; ``ready`` turns True only after ``load``."""

    def __init__(self):
        self.ready = False
        self.model = None
        self.name = None
        self.info = None

    def load(self, artifact_dir, name=None):
        """Load and verify the artifact, then warm the caches with one prediction."""
        self.model, entry = artifacts.load(artifact_dir, name)
        self.name = name or artifacts.DEFAULT_MODEL
        self.info = {
            "name": self.name,
            "version": entry["version"],
            "kind": entry["kind"],
            "metrics": entry["metrics"],
            "training_data": entry["training_data"],
        }
        self.model.predict_labels(["warm-up: the first request should not pay for imports :)"])
        self.ready = True
        return self

    def predict(self, tweets):
        """Return ``{id: "Positive"|"Negative"}`` in the order of ``tweets`` (a dict id -> text)."""
        return dict(zip(tweets, self.model.predict_labels(list(tweets.values())), strict=True))
