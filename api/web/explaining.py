"""``?explain=true`` on predict: each tweet's exact explanation, computed in CPU turns, charged by a factor.

The explanation is ``model.serving.explain``'s: every word that moved the log-odds with its exact
contribution, the top positive and negative ones, and the rest (intercept, features tied to no word),
so that the parts add up to the log-odds. The label and score beside it are the plain answer's, from
the scored log-odds, so asking for an explanation never changes them.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from flask import request

from api.errors import InvalidParameter
from api.web.shapes import BOOLEANS
from model.serving.base import TweetClassifier
from model.serving.chunks import FIRST_GUESS_SECONDS_PER_CHAR, MAX_GROWTH
from model.serving.explain import Explanation, explain
from model.serving.registry import ALL

# An explained request is charged this many times a plain one (characters x models x factor): the
# CPU an explanation takes over scoring alone, measured by `make bench` (bench/explain.py) on 1000
# held-out tweets, rounded up.
EXPLAIN_COST_FACTOR = 4


def explain_query() -> bool:
    """Return whether the query asks for explanations (``?explain=true``), or raise InvalidParameter."""
    explain_ = request.args.get("explain", "false")
    if explain_ not in BOOLEANS:
        raise InvalidParameter("explain must be true or false", key="explain")
    return BOOLEANS[explain_]


def explain_cost(cost: int, explained: bool) -> int:
    """Return what a request that costs ``cost`` plain costs with or without explanations."""
    return cost * EXPLAIN_COST_FACTOR if explained else cost


def explain_models(
    models: Mapping[str, TweetClassifier],
    texts: list[str],
    between: Callable[[], None],
    chunk_seconds: float,
) -> dict[str, list[Explanation]]:
    """Return ``{model: [explanation per text]}``, explained a chunk of ~``chunk_seconds`` at a time.

    ``between`` runs after each chunk: the scorer's chance to hand the CPU to other requests
    (api/web/fairness.py), as scoring does (model/serving/chunks.py).
    """
    return {
        name: _in_chunks(partial(explain, model), texts, chunk_seconds, between)
        for name, model in models.items()
    }


def _in_chunks(
    work: Callable[[Sequence[str]], list[Explanation]],
    texts: list[str],
    chunk_seconds: float,
    between: Callable[[], None],
) -> list[Explanation]:
    """Return ``work(texts)`` done a chunk at a time, each sized by the rate the last one ran at."""
    out: list[Explanation] = []
    # An explanation costs about EXPLAIN_COST_FACTOR times a score: the first chunk is sized for that.
    start, rate = 0, FIRST_GUESS_SECONDS_PER_CHAR * EXPLAIN_COST_FACTOR
    while start < len(texts):
        end, size, budget = start, 0, max(1, round(chunk_seconds / rate))
        while end < len(texts) and (end == start or size + len(texts[end]) <= budget):
            size += len(texts[end])
            end += 1
        began = time.perf_counter()
        out.extend(work(texts[start:end]))
        rate = max((time.perf_counter() - began) / max(size, 1), rate / MAX_GROWTH)
        start = end
        between()
    return out


def add_explanations(
    answer: dict[str, Any],
    explanations: Mapping[str, Sequence[Explanation]],
    name: str | None,
) -> dict[str, Any]:
    """Put each tweet's explanation beside its label and score in ``answer`` (a detailed one); return it.

    One model: ``{id: {"label", "score", "explanation"}}``; ``name="all"``: the same per model.
    """
    for i, key in enumerate(answer):
        if name == ALL:
            for model, explained in explanations.items():
                answer[key][model]["explanation"] = explained[i]
        else:
            answer[key]["explanation"] = next(iter(explanations.values()))[i]
    return answer
