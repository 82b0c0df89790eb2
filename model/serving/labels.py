"""The labels and the log-odds -> label / P(Positive) rule, stated once for the models, the API and scoring.

Kept free of numpy, scikit-learn and Flask, so that any process may import it cheaply.
"""

import math

LABELS = ("Negative", "Positive")


def class_of(log_odds: float) -> int:
    """Return 1 (Positive) when the log-odds are above 0, else 0 (Negative)."""
    # A conditional: a numpy score too gives a Python int, which indexes LABELS (a numpy bool does not).
    return 1 if log_odds > 0 else 0


def label_of(log_odds: float) -> str:
    """Return "Positive" when the log-odds are above 0, else "Negative"."""
    return LABELS[class_of(log_odds)]


def sigmoid(log_odds: float) -> float:
    """Return P(Positive) for a log-odds score, without overflow for large negative scores."""
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1.0 + odds)
