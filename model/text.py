"""Tweet text to tokens: URL stripping, normalisation, tokenization and stemming.

Everything here is pure and deterministic, needs no downloads (no
``nltk.download``), and is built once at import: the regexes are compiled and the
stemmer is memoised, so the per-tweet cost is a few regex passes and dict hits.
"""

import html
import re
from functools import lru_cache

from nltk.stem.porter import PorterStemmer

# URLs with a scheme or a bare "www." host; they carry no sentiment of their own.
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)

# @handles are replaced by one placeholder: the person named is noise, the fact
# that the tweet addresses someone is not.
_HANDLE_RE = re.compile(r"(?<![\w@])@\w{1,30}")
HANDLE_TOKEN = "@user"  # noqa: S105 - a placeholder word

# Three or more of the same character become two: "loooove" -> "loove",
# "!!!!!" -> "!!" (NLTK's TweetTokenizer(reduce_len=True) keeps three).
_ELONGATION_RE = re.compile(r"(.)\1{2,}", re.DOTALL)

# One pass of alternatives, most specific first; the emoticon and word
# patterns follow NLTK's casual tokenizer, which this replaces for speed.
_EMOTICON = r"""
    (?:
      [<>]?[:;=8][\-o\*']?[\)\]\(\[dDpP/:\}\{@\|\\]   # :-) ;p =D
      |
      [\)\]\(\[dDpP/:\}\{@\|\\][\-o\*']?[:;=8][<>]?   # (-: reversed
      |
      </?3                                          # <3 </3
    )"""
_TOKEN_RE = re.compile(
    _EMOTICON
    + r"""
    | @user                                   # handle placeholder
    | \#+\w[\w'\-]*\w                          # #hashtags
    | [^\W\d_](?:[^\W\d_]|['\-_])*[^\W\d_]     # words, with inner ' or -
    | [+\-]?\d+(?:[,/.:\-]\d+)*                # numbers
    | \w+                                      # other word characters
    | [!?]+                                    # punctuation runs that carry tone
    | [\U0001F300-\U0001FAFF\u2600-\u27BF]      # emoji, one token each
    | [.,;:]+                                  # clause ends: close a negation scope
    """,
    re.VERBOSE | re.IGNORECASE,
)

# Tokens that flip the polarity of what follows; never dropped as stop words.
NEGATIONS = frozenset(
    {"not", "no", "never", "nor", "none", "nothing", "nobody", "nowhere", "cannot", "without"}
)
# Tokens after a negation, up to the next clause end, get this prefix, so that
# "not good" counts towards "NOT_good" rather than towards "good".
NEGATED_PREFIX = "NOT_"
_CLAUSE_ENDS = ".,;:!?"
_SILENT_CLAUSE_ENDS = ".,;:"

_stemmer = PorterStemmer()


def normalize(text):
    """Return tweet text with entities unescaped, URLs removed, handles masked, lower-cased."""
    text = html.unescape(text)
    text = _URL_RE.sub(" ", text)
    text = _HANDLE_RE.sub(" " + HANDLE_TOKEN + " ", text)
    text = _ELONGATION_RE.sub(r"\1\1", text)
    return text.lower()


def tokenize(text):
    """Split normalised text into word, emoticon, hashtag and punctuation tokens."""
    return _TOKEN_RE.findall(text)


def is_negation(token):
    """Return True for a token that negates what follows ("not", "don't", "never")."""
    return token in NEGATIONS or token.endswith("n't")


def _is_clause_end(token):
    """Return True for punctuation that closes a negation scope."""
    return not token.strip(_CLAUSE_ENDS)


# Bounded: clients can send any number of distinct made-up words, and an
# unbounded memo would let them grow a worker's memory without limit.
@lru_cache(maxsize=1 << 17)
def stem(token):
    """Return the Porter stem of a token (memoised); emoticons and handles pass through."""
    if not token[0].isalpha():
        return token
    return _stemmer.stem(token, to_lowercase=False)


def preprocess(text, mark_negation=True):
    """Return the stemmed feature tokens of one raw tweet.

    Clause-ending punctuation (other than ``!``/``?``, which carry tone) only
    closes a negation scope and is not returned.
    """
    out = []
    negated = False
    for token in tokenize(normalize(text)):
        if _is_clause_end(token):
            negated = False
            if not token.strip(_SILENT_CLAUSE_ENDS):
                continue
            out.append(token)
            continue
        stemmed = stem(token)
        out.append(NEGATED_PREFIX + stemmed if negated else stemmed)
        if mark_negation and is_negation(token):
            negated = True
    return out
