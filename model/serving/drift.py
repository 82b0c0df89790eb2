"""Drift of a model's inputs and answers: score histograms and the population stability index.

Training keeps, per model, the held-out split's distribution of P(Positive) over fixed bins and its
mean share of unknown tokens (the manifest entry's ``reference``, made by ``reference``); the server
compares a recent window of live answers with it (``psi``). The thresholds are the usual PSI
reading: under 0.1 no shift, 0.1 to 0.25 a moderate one, over 0.25 a shift to act on.
"""

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import TypedDict

# Ten equal-width bins of P(Positive): fixed, so every model and version is compared on the same grid.
BINS = 10
EDGES = tuple(i / BINS for i in range(1, BINS))
# A bin empty on one side would make the index infinite; each share is floored at this.
EPSILON = 1e-4
PSI_WARNING = 0.1
PSI_ALERT = 0.25
# The unknown-token share may rise this much (absolute) over the held-out one before it is an alert.
UNKNOWN_SHARE_ALERT = 0.1
# Fewer live answers than this in the window say nothing yet: no statistic is reported.
MIN_WINDOW = 200


class Reference(TypedDict):
    """A model's held-out distribution, as training writes it into the manifest entry."""

    bins: int
    shares: list[float]
    unknown_share: float
    rows: int


def bin_of(probability: float) -> int:
    """Return the bin (0 to BINS - 1) of one P(Positive)."""
    return bisect.bisect_right(EDGES, probability)


def shares(probabilities: Iterable[float]) -> list[float]:
    """Return the share of ``probabilities`` in each bin (all zero for none)."""
    counts = [0] * BINS
    for p in probabilities:
        counts[bin_of(p)] += 1
    total = sum(counts)
    return [n / total if total else 0.0 for n in counts]


def reference(probabilities: Sequence[float], unknown_shares: Sequence[float]) -> Reference:
    """Return the reference of a held-out split from its P(Positive) and per-tweet unknown-token shares."""
    return {
        "bins": BINS,
        "shares": [round(s, 6) for s in shares(probabilities)],
        "unknown_share": round(math.fsum(unknown_shares) / len(unknown_shares), 6) if unknown_shares else 0.0,
        "rows": len(probabilities),
    }


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Return the population stability index of ``actual`` shares against ``expected`` ones."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected shares against {len(actual)} actual ones")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total
