"""``?explain=true`` on predict: each tweet's exact explanation, computed in CPU turns, charged by factors.

The explanation is ``model.serving.explain``'s: every word that moved the log-odds with its exact
contribution, the top positive and negative ones, and the rest (intercept, features tied to no word),
so that the parts add up to the log-odds. The label and score beside it are the plain answer's, from
the scored log-odds, so asking for an explanation never changes them.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any

from flask import request

from api.errors import InvalidParameter
from api.web.shapes import BOOLEANS
from api.workbudget import text_cost, work_cost
from model.serving import classifier, nblr
from model.serving.artifacts import FORMATS
from model.serving.base import TweetClassifier
from model.serving.chunks import FIRST_GUESS_SECONDS_PER_CHAR, MAX_GROWTH
from model.serving.explain import Explanation, explain
from model.serving.registry import ALL

# What an explanation costs over plain scoring with the same model, per model format: the explained /
# plain CPU of a 1000-tweet request, measured by `make bench` (bench/explain.py, README "Performance"):
# the largest of its runs, rounded up. An explained request is charged characters x the sum of its
# models' factors; a format not measured here, the largest.
EXPLAIN_COST_FACTORS: Mapping[str, int] = MappingProxyType({classifier.FORMAT: 8, nblr.FORMAT: 9})


def explain_query() -> bool:
    """Return whether the query asks for explanations (``?explain=true``), or raise InvalidParameter."""
    explain_ = request.args.get("explain", "false")
    if explain_ not in BOOLEANS:
        raise InvalidParameter("explain must be true or false", key="explain")
    return BOOLEANS[explain_]


def request_cost(texts: list[str], models: Sequence[TweetClassifier], explained: bool) -> int:
    """Return what scoring ``texts`` with ``models`` costs, explained or plain (api/workbudget.py)."""
    if not explained:
        return work_cost(texts, len(models))
    return text_cost(texts) * sum(explain_factor(model) for model in models)


def explain_factor(model: TweetClassifier) -> int:
    """Return the cost factor of explaining with ``model``: its format's, else the largest."""
    formats = [name for name, kind in FORMATS.items() if isinstance(model, kind)]
    return EXPLAIN_COST_FACTORS.get(formats[0] if formats else "", max(EXPLAIN_COST_FACTORS.values()))


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
    # An explanation costs up to the largest factor times a score: the first chunk is sized for that.
    start, rate = 0, FIRST_GUESS_SECONDS_PER_CHAR * max(EXPLAIN_COST_FACTORS.values())
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
