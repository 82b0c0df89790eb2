"""TF-IDF n-gram features from a fitted vocabulary: scikit-learn's ``TfidfVectorizer.transform``, without it.

Serving needs only the transform, and importing scikit-learn's text module costs every server
process ~67 MiB and ~0.9 s. The arithmetic is scikit-learn's step for step (its analyzers, counts,
sublinear TF, IDF, then each row divided by its L2 norm summed in the same order), so the
matrices are equal bit for bit (tests/model/test_tfidf.py compares them on the held-out tweets).
"""

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

# scikit-learn's whitespace runs (CountVectorizer._white_spaces) and our word models' token pattern.
_WHITE_SPACES = re.compile(r"\s\s+")
_NON_SPACE_RUNS = re.compile(r"\S+")


def word_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Return the word n-grams of ``text``, lower-cased, in scikit-learn's order (tokens: ``\\S+``)."""
    tokens = _NON_SPACE_RUNS.findall(text.lower())
    min_n, max_n = ngram_range
    if max_n == 1:
        return tokens
    grams = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n + 1, len(tokens) + 1)):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Return the character n-grams inside the words of ``text``, lower-cased, edges padded by a space."""
    min_n, max_n = ngram_range
    grams: list[str] = []
    append = grams.append
    # scikit-learn's loop (a comprehension per n measured slower).
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        word = " " + word + " "
        length = len(word)
        for n in range(min_n, max_n + 1):
            offset = 0
            append(word[:n])
            while offset + n < length:
                offset += 1
                append(word[offset : offset + n])
            if offset == 0:  # a short word is counted once, at its shortest n that spans it
                break
    return grams


_ANALYZERS: dict[str, Callable[[str, tuple[int, int]], list[str]]] = {
    "word": word_ngrams,
    "char_wb": char_wb_ngrams,
}


class TfidfNgrams:
    """A fitted vocabulary and its IDF weights, with sublinear TF and L2-normalised rows."""

    def __init__(
        self,
        analyzer: str,
        ngram_range: tuple[int, int],
        vocabulary: dict[str, int],
        idf: NDArray[np.float64],
    ) -> None:
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.vocabulary_ = vocabulary
        self.idf_ = idf
        self._grams = _ANALYZERS[analyzer]

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the TF-IDF matrix of ``texts``: a row per text, a column per vocabulary entry."""
        vocabulary, grams, ngram_range = self.vocabulary_, self._grams, self.ngram_range
        columns: list[int | None] = []
        counts: list[int] = []
        bounds = [0]
        column_of = vocabulary.get
        for text in texts:
            # Counted in C; the grams outside the vocabulary are counted under None, then dropped.
            counter = Counter(map(column_of, grams(text, ngram_range)))
            counter.pop(None, None)
            columns += counter
            counts += counter.values()
            bounds.append(len(columns))
        shape = (len(texts), len(vocabulary))
        data = np.asarray(counts, dtype=np.float64)
        matrix = sp.csr_matrix((data, np.asarray(columns, np.int32), np.asarray(bounds, np.int32)), shape)
        matrix.sort_indices()
        np.log(matrix.data, matrix.data)
        matrix.data += 1.0
        matrix.data *= self.idf_[matrix.indices]
        _normalise_rows(matrix)
        return matrix


def _normalise_rows(matrix: sp.csr_matrix) -> None:
    """Divide each row by its L2 norm, in place; the squares summed in order, as scikit-learn does."""
    values = matrix.data.tolist()
    bounds = matrix.indptr.tolist()
    for start, end in pairwise(bounds):
        total = 0.0
        for value in values[start:end]:
            total += value * value
        if total != 0.0:
            matrix.data[start:end] /= math.sqrt(total)
