"""A sentiment lexicon over feature tokens: VADER's valences, made linear in tokens.

VADER (Hutto and Gilbert, 2014) scores words, emoticons and emoji by hand; its rules
scale a word's valence when a booster ("very") precedes it, when it is negated, and
around "but". Here each rule changes only the valence of the one token it acts on, so
a tweet's lexicon features are sums over its tokens and an explanation can name the
word behind each part. The tables are built once at training from VADER's files, keyed
by this package's feature tokens (stems), and saved in the model file.
"""

from collections.abc import Mapping, Sequence
from functools import cache
from itertools import repeat

# vaderSentiment ships no type information.
from vaderSentiment.vaderSentiment import BOOSTER_DICT, N_SCALAR, SentimentIntensityAnalyzer

from model.serving.text import NEGATED_PREFIX, analyse, tokenize

__all__ = ["N_SCALAR", "Lexicon", "vader_tables"]

# VADER's weights of words before and after a "but": the clause after it is the one meant.
BEFORE_BUT = 0.5
AFTER_BUT = 1.5
BUT = "but"
_PREFIX = len(NEGATED_PREFIX)


@cache
def vader_tables() -> tuple[dict[str, float], dict[str, float]]:
    """Return ``(valence, booster increment)`` keyed by feature token, from VADER's lexicon.

    Built once per process (cross-validation fits many models); callers copy before changing them.
    Words of one stem ("love", "loved", "loving") share their mean valence; an emoji
    gets the summed valence of the words of its name ("crying face": "crying").
    """
    analyzer = SentimentIntensityAnalyzer()
    by_token: dict[str, list[float]] = {}
    for word, value in analyzer.lexicon.items():
        tokens = tokenize(word)
        if len(tokens) == 1 and tokens[0] == word:
            by_token.setdefault(analyse(word)[0], []).append(float(value))
    for emoji, name in analyzer.emojis.items():
        value = sum(float(analyzer.lexicon.get(word, 0.0)) for word in name.split())
        if value and tokenize(emoji) == [emoji]:
            by_token.setdefault(emoji, []).append(value)
    valence = {token: round(sum(values) / len(values), 4) for token, values in sorted(by_token.items())}
    boosters = {
        analyse(word)[0]: float(value) for word, value in sorted(BOOSTER_DICT.items()) if " " not in word
    }
    return valence, boosters


class Lexicon:
    """VADER's rules over one model's tables: each token's valence, computed with a dict hit per token."""

    def __init__(self, valence: Mapping[str, float], boosters: Mapping[str, float]) -> None:
        self.valence = dict(valence)
        self.boosters = dict(boosters)
        # Each token's valence before the rules (a negated word's scaled): one lookup for plain and
        # negated tokens alike.
        self.scaled = self.valence | {NEGATED_PREFIX + t: v * N_SCALAR for t, v in self.valence.items()}

    def values(self, tokens: Sequence[str]) -> list[float]:
        """Return each token's valence after VADER's booster, negation and "but" rules (0.0: none)."""
        values = list(map(self.scaled.get, tokens, repeat(0.0)))
        if not any(values):
            return values
        boosters = self.boosters
        # Most tweets hold no booster: a set test in C skips the loop.
        for i in range(1, len(tokens) if not boosters.keys().isdisjoint(tokens) else 0):
            if values[i]:
                boost = boosters.get(tokens[i - 1])
                if boost is not None:
                    token = tokens[i]
                    negated = token.startswith(NEGATED_PREFIX)
                    value = self.valence[token[_PREFIX:]] if negated else values[i]
                    value += boost if value > 0 else -boost
                    values[i] = value * N_SCALAR if negated else value
        if BUT in tokens:
            but_at = len(tokens) - 1 - tokens[::-1].index(BUT)
            values = [
                v * (BEFORE_BUT if i < but_at else AFTER_BUT) if v and i != but_at else v
                for i, v in enumerate(values)
            ]
        return values
