"""Exact explanations of linear models: which words moved a tweet's score, and by how much.

A model's log-odds is a sum of per-feature terms; each term belongs to the words it
was computed from (see the models' ``attributions``), so the words' contributions,
the intercept and the terms tied to no word add up to the log-odds itself, not to
an estimate of it.
"""

from collections.abc import Sequence
from typing import TypedDict

from model.serving.base import TweetClassifier

DEFAULT_TOP = 3


class WordContribution(TypedDict):
    """One word as the user wrote it, and what it added to the log-odds of "Positive"."""

    word: str
    contribution: float


class Rest(TypedDict):
    """The parts of the log-odds tied to no word: the intercept, and features such as the length."""

    intercept: float
    other: float


class Explanation(TypedDict):
    """One tweet's log-odds and its exact parts."""

    log_odds: float
    words: list[WordContribution]
    top_positive: list[WordContribution]
    top_negative: list[WordContribution]
    rest: Rest


def explain(model: TweetClassifier, texts: Sequence[str], top: int = DEFAULT_TOP) -> list[Explanation]:
    """Return each tweet's explanation: its words' contributions in text order, the top ones, the rest."""
    explanations: list[Explanation] = []
    # One feature pass: the attributions carry the log-odds they split (the score's arithmetic,
    # so equal to the model's answer).
    for parts in model.attributions(texts):
        words: list[WordContribution] = [
            {"word": word, "contribution": value}
            for word, value in zip(parts.words, parts.contributions, strict=True)
            if value != 0.0
        ]
        # Stable sorts: equal contributions keep text order.
        positive = sorted((w for w in words if w["contribution"] > 0), key=lambda w: -w["contribution"])
        negative = sorted((w for w in words if w["contribution"] < 0), key=lambda w: w["contribution"])
        explanations.append(
            {
                "log_odds": parts.log_odds,
                "words": words,
                "top_positive": positive[:top],
                "top_negative": negative[:top],
                "rest": {"intercept": parts.intercept, "other": parts.other},
            }
        )
    return explanations
