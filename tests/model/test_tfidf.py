"""The serving TF-IDF transform gives scikit-learn's matrices, bit for bit, for nblr's vocabularies."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from model.paths import DEFAULT_DATA
from model.serving import artifacts
from model.serving.tfidf import TfidfNgrams, char_wb_ngrams, word_ngrams
from model.training.data import read_rows

# Shapes the tweets may not hold: empty, one letter, runs of spaces and tabs, upper case, no known gram.
_ODD = [
    "",
    " ",
    "a",
    "ab",
    "I",
    "A  B\t\tc\nd",
    "NOT_good NOT_good",
    "zzzzqqqq",
    "x y z",
    "  leading trailing  ",
]


@pytest.fixture(scope="module")
def nblr():
    models, _ = artifacts.load_all()
    return models["nblr"][0]


def _sklearn(ours: TfidfNgrams) -> TfidfVectorizer:
    """Return scikit-learn's vectorizer with the same settings, vocabulary and IDF weights."""
    pattern = {"token_pattern": r"\S+"} if ours.analyzer == "word" else {}
    vectorizer = TfidfVectorizer(
        analyzer=ours.analyzer, ngram_range=ours.ngram_range, sublinear_tf=True, **pattern
    )
    vectorizer.vocabulary_ = ours.vocabulary_
    vectorizer.idf_ = ours.idf_
    return vectorizer


def _assert_same(ours: TfidfNgrams, texts: list[str]) -> None:
    expected, got = _sklearn(ours).transform(texts), ours.transform(texts)
    assert got.shape == expected.shape
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    assert np.array_equal(got.data, expected.data)  # equal, not close


def test_word_and_char_blocks_equal_scikit_learn_on_every_tweet(nblr):
    texts = [text for text, _ in read_rows(DEFAULT_DATA)] + _ODD
    _, words, chars = nblr._inputs(texts)
    _assert_same(nblr.word_, words + _ODD)
    _assert_same(nblr.char_, chars + _ODD)


@pytest.mark.parametrize("text", _ODD)
def test_analyzers_equal_scikit_learn(text):
    assert word_ngrams(text, (1, 2)) == TfidfVectorizer(
        token_pattern=r"\S+", ngram_range=(1, 2)
    ).build_analyzer()(text)
    assert word_ngrams(text, (2, 3)) == TfidfVectorizer(
        token_pattern=r"\S+", ngram_range=(2, 3)
    ).build_analyzer()(text)
    sklearn_chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert char_wb_ngrams(text, (2, 5)) == sklearn_chars(text)


def test_no_texts_give_an_empty_matrix(nblr):
    assert nblr.char_.transform([]).shape == (0, len(nblr.char_.vocabulary_))
