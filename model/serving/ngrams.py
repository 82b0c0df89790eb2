"""Where n-grams lie in a tweet: splitting an n-gram model's per-feature contributions over its words.

Used by explanations only. A word n-gram's contribution is shared equally by its
occurrences and each occurrence's words; a character n-gram's (scikit-learn's
``char_wb``: inside one whitespace-separated chunk, padded with a space) by the
tokens of its chunk it overlaps, in proportion to the overlap.
"""

from collections.abc import Mapping, Sequence

# Per n-gram occurrence: the tokens it lies on, with their weights (summing to 1).
Occurrence = list[tuple[int, float]]


def word_ngram_occurrences(
    tokens: Sequence[str], vocabulary: Mapping[str, int]
) -> dict[int, list[Occurrence]]:
    """Return ``{feature index: occurrences}`` of the unigrams and bigrams of ``tokens`` in ``vocabulary``."""
    found: dict[int, list[Occurrence]] = {}
    for i, token in enumerate(tokens):
        if (index := vocabulary.get(token)) is not None:
            found.setdefault(index, []).append([(i, 1.0)])
    for i in range(len(tokens) - 1):
        if (index := vocabulary.get(tokens[i] + " " + tokens[i + 1])) is not None:
            found.setdefault(index, []).append([(i, 0.5), (i + 1, 0.5)])
    return found


def char_wb_ngrams(chunk: str, min_n: int, max_n: int) -> list[tuple[str, int, int]]:
    """Return each ``char_wb`` n-gram of one chunk with its span in the chunk (padding excluded).

    The same n-grams, in the same order, as scikit-learn's ``_char_wb_ngrams`` for one word.
    """
    padded = " " + chunk + " "
    out: list[tuple[str, int, int]] = []
    for n in range(min_n, max_n + 1):
        offset = 0
        out.append((padded[:n], 0, min(n - 1, len(chunk))))
        while offset + n < len(padded):
            offset += 1
            out.append((padded[offset : offset + n], max(offset - 1, 0), min(offset + n - 1, len(chunk))))
        if offset == 0:  # scikit-learn counts a word shorter than n once
            break
    return out


def char_ngram_occurrences(
    chunks: Sequence[str],
    token_spans: Sequence[tuple[int, int, int]],
    vocabulary: Mapping[str, int],
    ngram_range: tuple[int, int],
) -> dict[int, list[Occurrence]]:
    """Return ``{feature index: occurrences}`` of the ``char_wb`` n-grams of ``chunks`` in ``vocabulary``.

    ``token_spans`` holds each token's chunk index and span in it. An n-gram over
    no token (a chunk of punctuation the tokenizer drops) lies on none: an empty occurrence.
    """
    by_chunk: dict[int, list[tuple[int, int, int]]] = {}
    for i, (chunk_index, start, end) in enumerate(token_spans):
        by_chunk.setdefault(chunk_index, []).append((i, start, end))
    found: dict[int, list[Occurrence]] = {}
    for chunk_index, chunk in enumerate(chunks):
        tokens = by_chunk.get(chunk_index, [])
        for gram, start, end in char_wb_ngrams(chunk, *ngram_range):
            index = vocabulary.get(gram)
            if index is None:
                continue
            overlaps = [(i, max(0, min(end, t_end) - max(start, t_start))) for i, t_start, t_end in tokens]
            total = sum(size for _, size in overlaps)
            if total:
                found.setdefault(index, []).append([(i, size / total) for i, size in overlaps if size])
            else:
                # Padding or punctuation only: shared by the chunk's tokens (none: no word).
                found.setdefault(index, []).append([(i, 1.0 / len(tokens)) for i, _, _ in tokens])
    return found


def spread(
    contributions: Mapping[int, float], occurrences: Mapping[int, list[Occurrence]], shares: list[float]
) -> float:
    """Add each feature's contribution to ``shares`` over its occurrences; return what lies on no token."""
    unplaced = 0.0
    for index, value in contributions.items():
        places = occurrences.get(index)
        if not places:
            unplaced += value
            continue
        part = value / len(places)
        for occurrence in places:
            if not occurrence:
                unplaced += part
            for token, weight in occurrence:
                shares[token] += part * weight
    return unplaced
