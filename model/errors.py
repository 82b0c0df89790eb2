"""Errors raised by the model package."""


class ModelError(Exception):
    """Base class for model package errors."""


class DataError(ModelError):
    """The training data set is missing or malformed."""


class ArtifactError(ModelError):
    """A model artifact is missing, altered or malformed: refuse to serve it."""


class ScoreError(ModelError):
    """Bulk scoring cannot go on: the input is missing or malformed, or the output cannot be written."""
