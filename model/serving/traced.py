"""The explanation's path: ``preprocess``'s tokens, each traced back to the text the user wrote.

The same normalisation, tokenizing and negation as ``model.serving.text`` (its patterns and analysis,
shared, not copied), without its memo and keeping each character's source span; a test checks the
traced tokens are the served ones for every tweet of the data set.
"""

import html
import re

from model.serving.text import (
    _HANDLE_RE,
    _TOKEN_RE,
    _URL_RE,
    HANDLE_TOKEN,
    LOUD_END,
    NEGATION,
    NEGATION_SCOPE,
    SILENT_END,
    analyse,
)

# One emitted feature token traced back to the tweet: the feature, the text the user wrote for it,
# the index of its whitespace-separated chunk of the normalised text, and its span in that chunk.
Traced = tuple[str, str, int, int, int]
# A character of the normalised text: the span of the (unescaped) tweet it stands for.
_Spans = list[tuple[int, int]]


def _sub_traced(pattern: re.Pattern[str], text: str, spans: _Spans, replacement: str) -> tuple[str, _Spans]:
    """Replace ``pattern`` in ``text`` as ``normalize`` does, keeping each character's source span.

    The replacement's non-space characters stand for the whole match (a handle's "@user" for "@Alice").
    """
    out: list[str] = []
    out_spans: _Spans = []
    last = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        out.append(text[last:start])
        out_spans.extend(spans[last:start])
        whole = (spans[start][0], spans[end - 1][1])
        empty = (spans[start][0], spans[start][0])
        out.append(replacement)
        out_spans.extend(empty if char == " " else whole for char in replacement)
        last = end
    out.append(text[last:])
    out_spans.extend(spans[last:])
    return "".join(out), out_spans


def normalize_traced(text: str) -> tuple[str, str, _Spans]:
    """Return ``normalize(text)``, the unescaped tweet, and each normalised character's span in it."""
    source = html.unescape(text) if "&" in text else text
    lowered = source.lower()
    if len(lowered) != len(source):
        # A character whose lower case is longer ("İ"): case cannot be mapped back one to one.
        source = lowered
    if "\u2019" in lowered:
        lowered = lowered.replace("\u2019", "'")
    spans: _Spans = [(i, i + 1) for i in range(len(lowered))]
    if "http" in lowered or "www." in lowered:
        lowered, spans = _sub_traced(_URL_RE, lowered, spans, " ")
    if "@" in lowered:
        lowered, spans = _sub_traced(_HANDLE_RE, lowered, spans, " " + HANDLE_TOKEN + " ")
    return lowered, source, spans


def preprocess_traced(text: str, mark_negation: bool = True) -> tuple[list[Traced], list[str]]:
    """Return ``preprocess``'s tokens, each traced to what the user wrote, and the normalised chunks.

    The explanation's path, not the serving one: the same analysis as ``preprocess``, without its memo.
    """
    normalised, source, spans = normalize_traced(text)
    out: list[Traced] = []
    chunks: list[str] = []
    negated = 0
    negation_at = -1
    for index, chunk_match in enumerate(re.finditer(r"\S+", normalised)):
        chunk, offset = chunk_match.group(), chunk_match.start()
        chunks.append(chunk)
        for token_match in _TOKEN_RE.finditer(chunk):
            plain, negated_form, role = analyse(token_match.group())
            if role >= LOUD_END:
                negated = 0
                if role == SILENT_END:
                    continue
            start, end = token_match.span()
            written = source[spans[offset + start][0] : spans[offset + end - 1][1]]
            if negated and negated_form != plain:
                out.append((negated_form, written, index, start, end))
                if negation_at >= 0:
                    del out[negation_at]
                    negation_at = -1
            else:
                out.append((plain, written, index, start, end))
            if role == NEGATION and mark_negation:
                negated, negation_at = NEGATION_SCOPE, len(out) - 1
            elif negated:
                negated -= 1
    return out, chunks
