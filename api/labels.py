"""Labels and scores as the API answers them, from a model's log-odds (no model code needed)."""

import math

LABELS = ("Negative", "Positive")


def sigmoid(score):
    """Return P(Positive) for a log-odds score, without overflow for large negative scores."""
    if score >= 0:
        return 1.0 / (1.0 + math.exp(-score))
    odds = math.exp(score)
    return odds / (1.0 + odds)
