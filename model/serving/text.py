"""Tweet text to tokens: URL stripping, normalisation, tokenization and stemming.

Everything here is pure and deterministic, needs no downloads (no
``nltk.download``), and is built once at import: the regexes are compiled and the
stemmer is memoised, so the per-tweet cost is a few regex passes and dict hits. The stemmer is
NLTK's Porter algorithm without NLTK's imports (model/serving/porter.py).
"""

import html
import re
from collections.abc import Callable
from functools import lru_cache
from sys import intern

# vaderSentiment ships no type information.
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SentimentIntensityAnalyzer

from model.serving import porter

# URLs with a scheme or a bare "www." host; they carry no sentiment of their own.
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)

# @handles are replaced by one placeholder: the person named is noise, the fact
# that the tweet addresses someone is not.
_HANDLE_RE = re.compile(r"(?<![\w@])@\w{1,30}")
HANDLE_TOKEN = "@user"  # noqa: S105 - a placeholder word

# Three or more of the same character become two: "loooove" -> "loove",
# "!!!!!" -> "!!" (NLTK's TweetTokenizer(reduce_len=True) keeps three). Applied
# per token inside the memoised analysis, so it costs nothing for known tokens.
_ELONGATION_RE = re.compile(r"(.)\1{2,}", re.DOTALL)

# One pass of alternatives, most specific first; the emoticon and word
# patterns follow NLTK's casual tokenizer, which this replaces for speed.
_EMOTICON = r"""
    (?:
      [<>]?[:;=8][\-o\*']?[\)\]\(\[dp/:\}\{@\|\\]   # :-) ;p =d (text is lower-cased)
      |
      [\)\]\(\[dp/:\}\{@\|\\][\-o\*']?[:;=8][<>]?   # (-: reversed
      |
      </?3                                          # <3 </3
    )"""


def _vader_lexicon() -> dict[str, float]:
    """Return VADER's word list (read once, at import)."""
    lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon
    return lexicon


_TOKEN_RE = re.compile(
    _EMOTICON
    + r"""
    | @user                                   # handle placeholder
    | \#+\w[\w'\-]*\w                          # #hashtags
    | [^\W\d_]+(?:['\-_][^\W\d_]+)*           # words, with inner ' or -
    | [+\-]?\d+(?:[,/.:\-]\d+)*                # numbers
    | \w+                                      # other word characters
    | [!?]+                                    # punctuation runs that carry tone
    | [\U0001F300-\U0001FAFF\u2600-\u27BF]      # emoji, one token each
    | [.,;:]+                                  # clause ends: close a negation scope
    """,
    re.VERBOSE,
)

# Tokens that flip the polarity of what follows. With VADER's list
# come the forms tweets write without an apostrophe ("dont", "cant"); "despite" does not negate
# what follows it.
NEGATIONS = frozenset(
    {"not", "no", "never", "nor", "none", "nothing", "nobody", "nowhere", "cannot", "without"}
    | (set(NEGATE) - {"despite"})
)
# Emoticons and emoji say how the writer feels, not what is negated: they end a negation's scope
# ("can't wait :)") and are never marked negated themselves.
_FACE_RE = re.compile(_EMOTICON + r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]", re.VERBOSE)
# Words an elongation may stand for: "loooove" is "love", not "loove"; "goood" stays "good".
_KNOWN_WORDS = frozenset(word for word in (*_vader_lexicon(), *BOOSTER_DICT, *NEGATIONS) if word.isalpha())
# Only these are marked when negated: "not at all" leaves "at" and "all" as they are, so they keep
# what the data says of them, and a negation's sentiment is carried by the word it negates.
_SENTIMENT_WORDS = frozenset(word for word in _vader_lexicon() if word.isalpha())
# VADER's boosters ("very", "awfully") are kept unstemmed: stemmed, "awfully" would become "aw", the stem
# of "awful", and "hugely" the word "huge", so a booster would carry a sentiment word's valence and ratio.
# No booster is a sentiment word, so a booster token is never negated either.
BOOSTERS = frozenset(word for word in BOOSTER_DICT if " " not in word)
# Sentiment words after a negation, up to the next clause end and at most NEGATION_SCOPE tokens on,
# get this prefix, so that "not good" counts towards "NOT_good" rather than towards "good"; the
# negation itself is then left out (see preprocess).
NEGATED_PREFIX = "NOT_"
# Chosen by cross-validation on the training split (1, 2, 3, 4 or to the clause end: 4 was best
# for freqlr); VADER looks back 3 words.
NEGATION_SCOPE = 4
_CLAUSE_ENDS = ".,;:!?"
_SILENT_CLAUSE_ENDS = ".,;:"

# What a token does in a tweet, decided once per distinct token (see analyse).
WORD, NEGATION, LOUD_END, SILENT_END = range(4)
# One analysed token: its feature form, its negated form and its role.
Analysed = tuple[str, str, int]
# One analysed chunk (see analyse_chunk).
Chunk = tuple[tuple[str, ...] | None, tuple[Analysed, ...]]


def normalize(text: str) -> str:
    """Return tweet text with entities unescaped, URLs removed, handles masked, lower-cased."""
    # Each pass runs only when its trigger character is present: most tweets
    # have no entity, URL or handle, and a substring test is far cheaper.
    if "&" in text:
        text = html.unescape(text)
    text = text.lower()
    if "\u2019" in text:
        text = text.replace("\u2019", "'")
    if "http" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _HANDLE_RE.sub(" " + HANDLE_TOKEN + " ", text)
    return text


def tokenize(text: str) -> list[str]:
    """Split normalised text into word, emoticon, hashtag and punctuation tokens."""
    return _TOKEN_RE.findall(text)


def is_negation(token: str) -> bool:
    """Return True for a token that negates what follows ("not", "don't", "never")."""
    return token in NEGATIONS or token.endswith("n't")


def stem(token: str) -> str:
    """Return the Porter stem of a token (memoised); emoticons and handles pass through."""
    return analyse(token)[0]


# Bounded: clients can send any number of distinct made-up words, and an
# unbounded memo would let them grow a worker's memory without limit.
@lru_cache(maxsize=1 << 17)
def analyse(token: str) -> Analysed:
    """Return ``(feature token, its negated form, role)`` of one raw token, memoised.

    The forms are interned: a model that interns its tables' keys (``model.serving.linear``) then
    finds a token by identity, without comparing its characters.
    """
    if not token.strip(_CLAUSE_ENDS):
        short = intern(_ELONGATION_RE.sub(r"\1\1", token))
        return short, short, (SILENT_END if not token.strip(_SILENT_CLAUSE_ENDS) else LOUD_END)
    if _FACE_RE.fullmatch(token):
        face = intern(token)
        return face, face, LOUD_END
    short = _shorten(token)
    stemmed = intern(porter.stem(short) if short[0].isalpha() and short not in BOOSTERS else short)
    negated = intern(NEGATED_PREFIX + stemmed) if short in _SENTIMENT_WORDS else stemmed
    return stemmed, negated, (NEGATION if is_negation(short) else WORD)


def _shorten(token: str) -> str:
    """Return a token with runs of three or more of a character cut to two, or to one for a known word."""
    short = _ELONGATION_RE.sub(r"\1\1", token)
    if short == token or short in _KNOWN_WORDS:
        return short
    single = _ELONGATION_RE.sub(r"\1", token)
    return single if single in _KNOWN_WORDS else short


def analyse_chunk(chunk: str) -> Chunk:
    """Return one whitespace-free chunk's tokens as emitted outside a negation's scope, and analysed.

    The first is None for a chunk holding a negation, which must go token by token.
    """
    analysed = tuple(analyse(token) for token in _TOKEN_RE.findall(chunk))
    if any(role == NEGATION for _, _, role in analysed):
        return None, analysed
    return tuple(form for form, _, role in analysed if role != SILENT_END), analysed


class BoundedMemo(dict[str, Chunk]):
    """A memo of a one-argument function that empties itself when full.

    Bounded, because clients can send any number of distinct chunks; emptied
    at once rather than evicting one entry at a time, because a hit is then a
    plain dict lookup, several times cheaper than an LRU's, and the common
    chunks are back after a few tweets.
    """

    def __init__(self, function: Callable[[str], Chunk], maxsize: int) -> None:
        super().__init__()
        self.function = function
        self.maxsize = maxsize

    def __missing__(self, key: str) -> Chunk:
        """Compute, remember and return the value of a key not seen yet."""
        if len(self) >= self.maxsize:
            self.clear()
        value = self[key] = self.function(key)
        return value


# No token pattern spans whitespace, so a tweet is tokenized chunk by chunk,
# and each distinct chunk ("love", "it!!", ":)") goes through the regex and
# the stemmer once per worker.
CHUNKS = BoundedMemo(analyse_chunk, maxsize=1 << 17)


def preprocess(text: str, mark_negation: bool = True) -> list[str]:
    """Return the stemmed feature tokens of one raw tweet.

    Sentiment words after a negation, up to the next clause end and at most NEGATION_SCOPE
    tokens on, come back as ``NOT_<stem>``, and the negation is then dropped: in the training
    tweets "not" and "don't" mostly negate positive words, and as tokens of their own they
    learn to pull every tweet negative, "not bad" too; the negated word carries the meaning.
    Clause-ending punctuation other than ``!``/``?`` (which carry tone) only closes a negation
    scope and is not returned.
    """
    out: list[str] = []
    append = out.append
    chunks = CHUNKS
    negated = 0  # tokens left in the current negation's scope
    negation_at = -1
    for chunk in normalize(text).split():
        emitted, analysed = chunks[chunk]
        if emitted is not None and not negated:
            # Outside a negation's scope, a chunk without one emits what it always does.
            out += emitted
            continue
        for plain, negated_form, role in analysed:
            if role >= LOUD_END:
                negated = 0
                if role == LOUD_END:
                    append(plain)
                continue
            if negated and negated_form != plain:
                append(negated_form)
                if negation_at >= 0:
                    del out[negation_at]
                    negation_at = -1
            else:
                append(plain)
            if role == NEGATION and mark_negation:
                negated, negation_at = NEGATION_SCOPE, len(out) - 1
            elif negated:
                negated -= 1
    return out
