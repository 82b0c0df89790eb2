"""The serving Porter stemmer stems as NLTK's, and the serving code imports neither NLTK nor scikit-learn."""

import itertools
import json
import random
import subprocess
import sys

import pytest
from nltk.stem.porter import PorterStemmer
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from model.paths import DEFAULT_DATA
from model.serving import porter
from model.serving.text import normalize, tokenize
from model.training.data import read_rows
from tests.e2e import ROOT

# Porter's suffixes and NLTK's special cases, put after stems of every shape (y-runs, doubled
# consonants, cvc endings, irregular forms), so that every rule and condition is reached.
_SUFFIXES = (
    "", "s", "es", "sses", "ies", "ied", "ss", "ed", "eed", "ing", "y", "ly", "ational", "tional", "enci",
    "anci", "izer", "bli", "abli", "alli", "entli", "eli", "ousli", "ization", "ation", "ator", "alism",
    "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "fulli", "logi", "icate", "ative", "alize",
    "iciti", "ical", "ful", "ness", "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment",
    "ent", "sion", "tion", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll", "at", "bl", "iz",
)  # fmt: skip
_STEMS = (
    "", "a", "y", "yy", "yyy", "ay", "ya", "sky", "die", "ly", "ty", "hop", "fil", "tann", "fizz", "fall",
    "hiss", "feed", "agr", "plaster", "bl", "sing", "conflat", "troubl", "siz", "happ", "enjoy", "sp",
    "relat", "condit", "valen", "hesit", "digit", "conform", "radic", "differ", "vil", "analog", "vietnam",
    "predic", "oper", "feud", "decis", "hope", "call", "form", "sensi", "geo", "theo", "archaeo", "triplic",
    "electr", "good", "reviv", "allow", "infer", "airlin", "gyroscop", "adjust", "defens", "irrit", "replac",
    "depend", "adopt", "homolog", "commun", "activ", "angular", "effect", "bowdler", "prob", "rat", "ceas",
    "control", "ro", "syzyg", "toy", "oat", "tree", "ivy", "orrery", "news", "inn", "out", "cann", "proc",
    "exc", "succ", "how", "wax", "bow", "fly", "try", "spy", "ey", "oy", "tyyy", "ayyy",
)  # fmt: skip


def _words():
    """Return the words to compare: the training data's tokens, VADER's lexicon, made-up words."""
    words = {token for text, _ in read_rows(DEFAULT_DATA) for token in tokenize(normalize(text))}
    words |= set(SentimentIntensityAnalyzer().lexicon)
    words |= {stem + suffix for stem, suffix in itertools.product(_STEMS, _SUFFIXES)}
    rng = random.Random(0)
    words |= {"".join(rng.choices("aeiouybcdlstz", k=rng.randint(1, 12))) for _ in range(20_000)}
    return sorted(word for word in words if word and word[0].isalpha())


def test_stems_every_word_as_nltk_does():
    nltk = PorterStemmer()
    words = _words()
    assert len(words) > 30_000
    differ = [(w, nltk.stem(w, to_lowercase=False), porter.stem(w)) for w in words]
    assert [row for row in differ if row[1] != row[2]] == []


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        *[("caresses", "caress"), ("ponies", "poni"), ("dies", "die"), ("spied", "spi"), ("died", "die")],
        *[("agreed", "agre"), ("hopping", "hop"), ("filing", "file"), ("happy", "happi"), ("enjoy", "enjoy")],
        *[("relational", "relat"), ("geology", "geolog"), ("controll", "control"), ("skies", "sky")],
    ],
)
def test_known_stems(word, expected):
    assert porter.stem(word) == expected


def test_serving_imports_neither_nltk_nor_scikit_learn():
    # A fresh interpreter: the test run itself has imported both.
    code = (
        "import json, sys\n"
        "from model.serving import artifacts, registry\n"
        "models, _ = artifacts.load_all()\n"
        "for model, _ in models.values(): model.decision_function(['not so good :(', 'very nice day'])\n"
        "models['nblr'][0].attributions(['not so good :('])\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    imported = set(json.loads(done.stdout))
    assert not imported & {"nltk", "sklearn"}
