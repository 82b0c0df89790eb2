"""The labels and the log-odds -> label / P(Positive) rule, stated once for the models, the API and scoring.

Kept free of numpy, scikit-learn and Flask, so that any process may import it cheaply.
"""

import math

LABELS = ("Negative", "Positive")


def label_of(log_odds: float) -> str:
    """Return "Positive" when the log-odds are above 0, else "Negative"."""
    # A conditional rather than LABELS[log_odds > 0]: numpy booleans are not valid tuple indices.
    return LABELS[1] if log_odds > 0 else LABELS[0]


def sigmoid(log_odds: float) -> float:
    """Return P(Positive) for a log-odds score, without overflow for large negative scores."""
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1.0 + odds)
