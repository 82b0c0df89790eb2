"""freqlr's serving arithmetic: ``coef . features + intercept``, per-token terms folded into one table.

``FrequencyFeaturizer.rows`` states the features; the model is linear in all of them but the
ratios' mean, maximum and minimum, the pairs' mean and the length. So each token's share of the
linear part (its ratio's sum and sign-count terms, its valence's lexicon terms) is added up once
per token kind when the model loads, and a tweet costs two lookups per token (that share, its
ratio) and one per adjacent pair, inside C-level ``map`` calls, instead of a dozen passes building
feature tuples. VADER's booster and "but" rules change a valence by what stands around it, so only
tweets holding a booster or "but" have their lexicon terms corrected, through ``Lexicon.values``
itself. The scores equal ``coef . rows + intercept`` within floating-point rounding
(tests/model/test_linear.py).
"""

import math
import sys
from collections.abc import Callable, Sequence
from functools import partial
from itertools import pairwise, repeat
from operator import is_not
from typing import Any

from model.serving.features import FEATURE_NAMES, FrequencyFeaturizer
from model.serving.lexicon import BUT

# The weights' positions in coef, by the feature they multiply.
_AT = {name: i for i, name in enumerate(FEATURE_NAMES)}
# The features outside the table, in the order ``scores`` unpacks their weights.
_NONLINEAR = ("ratio_mean", "ratio_max", "ratio_min", "pair_sum", "pair_mean", "pair_count")
# Tweets up to this many tokens find their length term in a list rather than calling log1p.
_LENGTHS = 128
_known = partial(is_not, None)
# Booster pairs ("very good") remembered with their change to the lexicon terms, before the memo empties.
_BOOSTER_MEMO = 1 << 14


class LinearScorer:
    """The log-odds of token lists under one featurizer, weights and intercept.

    Table keys are interned, as ``model.serving.text`` interns the tokens it emits: a lookup of a
    token then matches its key by identity, without comparing characters.
    """

    def __init__(self, featurizer: FrequencyFeaturizer, coef: Sequence[float], intercept: float) -> None:
        self.featurizer = featurizer
        self.coef = list(coef)
        self.intercept = intercept
        self.nonlinear = tuple(self.coef[_AT[name]] for name in _NONLINEAR)
        w_length = self.coef[_AT["log_tokens"]]
        self.lengths = [w_length * math.log1p(n) for n in range(_LENGTHS)]
        intern, ratios, scaled = sys.intern, featurizer.log_ratio_, featurizer.lexicon.scaled
        self.ratios = {intern(token): ratio for token, ratio in ratios.items()}
        # Each token's terms of the linear features, its valence taken before VADER's rules.
        self.shares = {
            intern(token): self._ratio_part(ratios.get(token))
            + self._lexicon_part(scaled.get(token, 0.0), token)
            for token in ratios.keys() | scaled.keys()
        }
        self.pair_ratios = {
            (intern(first), intern(second)): ratio
            for (first, second), ratio in featurizer.pair_tuples_.items()
        }
        # Unknown pairs give None; filter(bool) drops them in C, and would drop ratios of exactly 0.0 too.
        self.pair_known: Callable[[float | None], object] = (
            _known if 0.0 in self.pair_ratios.values() else bool
        )
        # Boosters (never negated: see model.serving.text.BOOSTERS) change the next token's valence.
        self.booster_forms = frozenset(featurizer.lexicon.boosters)
        # The tokens that change their neighbours' valences.
        self.context_tokens = self.booster_forms | {BUT}
        self.booster_changes: dict[tuple[str, str], float] = {}

    def _ratio_part(self, ratio: float | None) -> float:
        """Return the terms of the ratio features' sum and sign counts that one token adds."""
        if ratio is None:
            return 0.0
        c = self.coef
        sign = c[_AT["positive_tokens"]] if ratio > 0.0 else c[_AT["negative_tokens"]] if ratio < 0.0 else 0.0
        return c[_AT["ratio_sum"]] * ratio + sign

    def _lexicon_part(self, value: float, token: str) -> float:
        """Return the terms of the lexicon features that ``token`` adds with valence ``value``."""
        if not value:
            return 0.0
        c = self.coef
        sign = c[_AT["lexicon_positive"]] if value > 0.0 else c[_AT["lexicon_negative"]]
        unseen = c[_AT["lexicon_unseen"]] * value if token not in self.featurizer.log_ratio_ else 0.0
        return c[_AT["lexicon_sum"]] * value + sign + unseen

    def scores(self, docs: Sequence[Sequence[str]]) -> list[float]:
        """Return the log-odds of each token list."""
        w_mean, w_max, w_min, w_pair_sum, w_pair_mean, w_pair_count = self.nonlinear
        share, ratio, pair_ratio = self.shares.get, self.ratios.get, self.pair_ratios.get
        lengths, context_free, intercept = self.lengths, self.context_tokens.isdisjoint, self.intercept
        pair_known = self.pair_known
        out: list[float] = []
        for tokens in docs:
            n = len(tokens)
            score = sum(map(share, tokens, repeat(0.0)), intercept)
            score += lengths[n] if n < _LENGTHS else self._length_term(n)
            # Any: None until removed (a cast per tweet would cost more than the test it saves).
            ratios: list[Any] = list(map(ratio, tokens))
            while None in ratios:  # a token without a ratio: rare, and C-level scans beat a comprehension
                ratios.remove(None)
            if ratios:
                # The sum's and the signs' terms are in the shares; the mean and extremes are not linear.
                score += w_mean * sum(ratios) / len(ratios) + w_max * max(ratios) + w_min * min(ratios)
            if not context_free(tokens):
                score += self._rule_changes(tokens)
            pairs: list[Any] = list(filter(pair_known, map(pair_ratio, pairwise(tokens))))
            if pairs:
                total = sum(pairs)
                score += w_pair_sum * total + w_pair_mean * total / len(pairs) + w_pair_count * len(pairs)
            out.append(score)
        return out

    def _length_term(self, n: int) -> float:
        """Return the length feature's term for a tweet of ``n`` tokens."""
        return self.coef[_AT["log_tokens"]] * math.log1p(n)

    def _rule_changes(self, tokens: Sequence[str]) -> float:
        """Return how VADER's booster and "but" rules change the lexicon terms of the shares."""
        lexicon = self.featurizer.lexicon
        if BUT in tokens:
            # "but" reweighs every valence of the tweet.
            plain = map(lexicon.scaled.get, tokens, repeat(0.0))
            changed = zip(tokens, lexicon.values(tokens), plain, strict=True)
            return sum([self._change(token, value) for token, value, before in changed if value != before])
        # A booster changes only the valence of the token after it: each such pair is worked out alone.
        boosters, memo = self.booster_forms, self.booster_changes
        total = 0.0
        for pair in pairwise(tokens):
            if pair[0] in boosters:
                change = memo.get(pair)
                if change is None:
                    if len(memo) >= _BOOSTER_MEMO:
                        memo.clear()
                    change = memo[pair] = self._booster_change(*pair)
                total += change
        return total

    def _booster_change(self, booster: str, token: str) -> float:
        """Return the change to ``token``'s lexicon terms when ``booster`` precedes it."""
        value = self.featurizer.lexicon.values((booster, token))[1]
        return self._change(token, value)

    def _change(self, token: str, value: float) -> float:
        """Return the change to ``token``'s lexicon terms when a rule makes its valence ``value``."""
        before = self.featurizer.lexicon.scaled.get(token, 0.0)
        if value == before:
            return 0.0
        return self._lexicon_part(value, token) - self._lexicon_part(before, token)
