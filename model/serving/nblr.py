"""The stronger model: NB-weighted word and character n-grams, lexicon valences, logistic regression."""

from collections.abc import Sequence
from typing import Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from model.errors import ArtifactError
from model.serving.base import (
    SOLVER_MAX_ITERATIONS,
    SOLVER_TOLERANCE,
    Attribution,
    JSONObject,
    Params,
    Targets,
    TweetClassifier,
    artifact_header,
    check_header,
    unknown_share,
)
from model.serving.lexicon import Lexicon, vader_tables
from model.serving.ngrams import char_ngram_occurrences, spread, word_ngram_occurrences
from model.serving.text import normalize, preprocess
from model.serving.tfidf import TfidfNgrams
from model.serving.traced import preprocess_traced

FORMAT = "nblr"
# 3: boosters kept unstemmed (model/serving/text.py): a version-2 file was trained on stemmed ones, and
# this code would score it with other tokens than it learned from, so it is refused rather than misread.
FORMAT_VERSION = 3
# Per tweet, over its tokens: the summed valence, and how many tokens are positive and negative.
LEXICON_FEATURES = ("lexicon_sum", "lexicon_positive", "lexicon_negative")


# TF-IDF over word uni- and bigrams of the preprocessed (stemmed, negation-marked) tokens, and over
# character 2- to 5-grams inside words of the normalised text (robust to misspellings).
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)


def _fit_tfidf(texts: list[str], analyzer: str, ngram_range: tuple[int, int], min_df: int) -> TfidfNgrams:
    """Learn a vocabulary and its IDF weights with scikit-learn (imported here: serving never fits)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Word tokens are already split by model.serving.text; the pattern only splits on the joining spaces.
    pattern = {"token_pattern": r"\S+"} if analyzer == "word" else {}
    vectorizer = TfidfVectorizer(
        analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True, min_df=min_df, **pattern
    )
    fitted = vectorizer.fit(texts)
    vocabulary = {gram: int(column) for gram, column in fitted.vocabulary_.items()}
    return TfidfNgrams(analyzer, ngram_range, vocabulary, np.asarray(fitted.idf_, dtype=float))


class NBLogisticModel(TweetClassifier):
    """Logistic regression over NB-weighted TF-IDF n-grams and lexicon scores (scikit-learn style).

    Each n-gram's TF-IDF value is scaled by its smoothed log-count ratio between
    the classes (the "NB" of NBSVM, Wang and Manning 2012), which lets a linear
    model start from what each n-gram says on its own. VADER's hand-made
    lexicon (``model.serving.lexicon``, per token, so a score splits by word)
    adds what 8,000 tweets cannot teach about rare words and emoticons.
    """

    def __init__(self, C: float = 2.0, word_min_df: int = 2, char_min_df: int = 3) -> None:
        self.C = C
        self.word_min_df = word_min_df
        self.char_min_df = char_min_df

    def get_params(self, deep: bool = True) -> Params:
        """Return the constructor settings, as stored in the artifact."""
        return {"C": self.C, "word_min_df": self.word_min_df, "char_min_df": self.char_min_df}

    def fit(self, texts: Sequence[str], y: Targets) -> Self:
        """Learn the vocabularies, the NB ratios and the regression weights from raw tweets."""
        y = np.asarray(y, dtype=int)
        self.lexicon_ = Lexicon(*vader_tables())
        tokens, words, chars = self._inputs(texts)
        self.word_ = _fit_tfidf(words, "word", WORD_NGRAMS, self.word_min_df)
        self.char_ = _fit_tfidf(chars, "char_wb", CHAR_NGRAMS, self.char_min_df)
        ngrams = self._ngrams(words, chars)
        positive = np.asarray(ngrams[y == 1].sum(axis=0)).ravel() + 1.0
        negative = np.asarray(ngrams[y == 0].sum(axis=0)).ravel() + 1.0
        ratio: NDArray[np.float64] = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
        self.nb_ratio_ = ratio
        from sklearn.linear_model import LogisticRegression  # training only: serving never imports it

        regression = LogisticRegression(C=self.C, max_iter=SOLVER_MAX_ITERATIONS, tol=SOLVER_TOLERANCE)
        regression.fit(self._features(ngrams, tokens), y)
        self.coef_: NDArray[np.float64] = regression.coef_[0].astype(float)
        self.intercept_ = float(regression.intercept_[0])
        return self

    def decision_function(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Return the log-odds of "Positive" for each raw tweet."""
        tokens, words, chars = self._inputs(texts)
        features = self._features(self._ngrams(words, chars), tokens)
        scores: NDArray[np.float64] = features @ self.coef_ + self.intercept_
        return scores

    def attributions(self, texts: Sequence[str]) -> list[Attribution]:
        """Return, per raw tweet, its log-odds split over its words, the intercept and word-free n-grams."""
        tokens, words, chars = self._inputs(texts)
        features = self._features(self._ngrams(words, chars), tokens)
        scores = (features @ self.coef_ + self.intercept_).tolist()
        # Each feature's term, in the matrix's own layout: a row's terms are a slice of these arrays.
        terms = (features.data * self.coef_[features.indices]).tolist()
        columns, bounds = features.indices.tolist(), features.indptr.tolist()
        n_words, n_ngrams = len(self.word_.vocabulary_), len(self.nb_ratio_)
        w_sum, w_pos, w_neg = self.coef_[n_ngrams:].tolist()
        out: list[Attribution] = []
        for row, text in enumerate(texts):
            traced, chunks = preprocess_traced(text)
            word_parts: dict[int, float] = {}
            char_parts: dict[int, float] = {}
            for j, term in zip(
                columns[bounds[row] : bounds[row + 1]], terms[bounds[row] : bounds[row + 1]], strict=True
            ):
                if j < n_words:
                    word_parts[j] = term
                elif j < n_ngrams:
                    char_parts[j - n_words] = term
            shares = [0.0] * len(traced)
            lowered = [t[0].lower() for t in traced]
            other = spread(word_parts, word_ngram_occurrences(lowered, self.word_.vocabulary_), shares)
            # The character block reads the chunks of the normalised text; the traced ones are those.
            spans = [(t[2], t[3], t[4]) for t in traced]
            grams = char_ngram_occurrences(chunks, spans, self.char_.vocabulary_, self.char_.ngram_range)
            other += spread(char_parts, grams, shares)
            for i, value in enumerate(self.lexicon_.values(tokens[row])):
                shares[i] += w_sum * value + (w_pos if value > 0.0 else w_neg if value < 0.0 else 0.0)
            out.append(Attribution([t[1] for t in traced], shares, self.intercept_, other, scores[row]))
        return out

    def unknown_shares(self, texts: Sequence[str]) -> list[float]:
        """Return, per raw tweet, the share of its word tokens not in the word vocabulary (0.0 for none)."""
        vocabulary = self.word_.vocabulary_
        # The vectorizer lower-cases ("NOT_good" is "not_good" in its vocabulary).
        return [unknown_share([t.lower() for t in preprocess(text)], vocabulary) for text in texts]

    @staticmethod
    def _inputs(texts: Sequence[str]) -> tuple[list[list[str]], list[str], list[str]]:
        """Return the tokens, the word-level and the character-level views of raw tweets."""
        tokens = [preprocess(text) for text in texts]
        return tokens, [" ".join(t) for t in tokens], [normalize(text) for text in texts]

    def _ngrams(self, words: list[str], chars: list[str]) -> sp.csr_matrix:
        """Return the TF-IDF n-gram matrix (word block, then character block)."""
        return sp.hstack([self.word_.transform(words), self.char_.transform(chars)]).tocsr()

    def _features(self, ngrams: sp.csr_matrix, tokens: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Scale n-grams by their NB ratios and append the lexicon features."""
        rows = []
        for doc in tokens:
            values = self.lexicon_.values(doc)
            rows.append(
                (sum(values), len([v for v in values if v > 0.0]), len([v for v in values if v < 0.0]))
            )
        lexicon = np.array(rows, dtype=float).reshape(-1, len(LEXICON_FEATURES))
        return sp.hstack([ngrams.multiply(self.nb_ratio_).tocsr(), sp.csr_matrix(lexicon)]).tocsr()

    def to_dict(self) -> JSONObject:
        """Return the fitted model as plain JSON-ready data (no code, no pickle)."""
        return artifact_header(FORMAT, FORMAT_VERSION, self.get_params()) | {
            "lexicon_features": list(LEXICON_FEATURES),
            "valence": self.lexicon_.valence,
            "boosters": self.lexicon_.boosters,
            "word_vocabulary": {k: int(v) for k, v in self.word_.vocabulary_.items()},
            "word_idf": self.word_.idf_.tolist(),
            "char_vocabulary": {k: int(v) for k, v in self.char_.vocabulary_.items()},
            "char_idf": self.char_.idf_.tolist(),
            "nb_ratio": self.nb_ratio_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        """Rebuild a fitted model from ``to_dict`` output, checking every field."""
        try:
            check_header(data, FORMAT, FORMAT_VERSION)
            if data.get("lexicon_features") != list(LEXICON_FEATURES):
                raise ValueError("lexicon_features differ")
            model = cls(**data["params"])
            model.word_ = _restore("word", WORD_NGRAMS, data["word_vocabulary"], data["word_idf"])
            model.char_ = _restore("char_wb", CHAR_NGRAMS, data["char_vocabulary"], data["char_idf"])
            n_ngrams = len(data["word_idf"]) + len(data["char_idf"])
            model.nb_ratio_ = _finite(data["nb_ratio"], n_ngrams, "nb_ratio")
            model.coef_ = _finite(data["coef"], n_ngrams + len(LEXICON_FEATURES), "coef")
            model.intercept_ = float(data["intercept"])
            model.lexicon_ = Lexicon(_token_table(data["valence"]), _token_table(data["boosters"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"malformed {FORMAT} model: {exc!r}") from exc
        return model


def _restore(
    analyzer: str, ngram_range: tuple[int, int], vocabulary: dict[str, int], idf: list[float]
) -> TfidfNgrams:
    """Return the TF-IDF transform of a saved vocabulary and its IDF weights."""
    weights = _finite(idf, len(vocabulary), "idf")
    if not isinstance(vocabulary, dict) or sorted(vocabulary.values()) != list(range(len(vocabulary))):
        raise ValueError("vocabulary indices must be 0..n-1")
    return TfidfNgrams(analyzer, ngram_range, vocabulary, weights)


def _finite(values: ArrayLike, length: int, name: str) -> NDArray[np.float64]:
    """Return ``values`` as a float array of ``length`` finite numbers, or raise ValueError."""
    array = np.asarray(values, dtype=float)
    if array.shape != (length,) or not np.isfinite(array).all():
        raise ValueError(f"{name} must be {length} finite numbers")
    return array


def _token_table(table: object) -> dict[str, float]:
    """Return ``table`` as a token -> finite number map, or raise ValueError."""
    if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
        raise ValueError("a lexicon table is not an object")
    values = _finite(list(table.values()), len(table), "lexicon values")
    return dict(zip(table, values.tolist(), strict=True))
