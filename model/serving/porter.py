"""NLTK's Porter stemmer (its default mode, NLTK_EXTENSIONS), without importing NLTK.

``import nltk.stem.porter`` runs NLTK's package ``__init__``, which imports SciPy's statistics and
scikit-learn: ~95 MiB and ~1.1 s in every server process for one stemmer. This is the same
algorithm, rule for rule, adapted from NLTK 3.10.4's ``nltk/stem/porter.py`` (Apache License 2.0,
Copyright (C) 2001-2025 NLTK Project; the other two modes left out); tests/model/test_porter.py
checks it stems every word of the training data, VADER's lexicon and NLTK's own test words
as NLTK does. The step comments give Porter's rules ("An algorithm for suffix stripping", 1980).
"""

from collections.abc import Callable, Sequence

Condition = Callable[[str], bool] | None
Rule = tuple[str, str, Condition]

_VOWELS = frozenset("aeiou")
# NLTK's table of irregular forms, form -> stem.
_IRREGULAR = {
    form: stem
    for stem, forms in {
        "sky": ("sky", "skies"),
        "die": ("dying",),
        "lie": ("lying",),
        "tie": ("tying",),
        "news": ("news",),
        "inning": ("innings", "inning"),
        "outing": ("outings", "outing"),
        "canning": ("cannings", "canning"),
        "howe": ("howe",),
        "proceed": ("proceed",),
        "exceed": ("exceed",),
        "succeed": ("succeed",),
    }.items()
    for form in forms
}


def stem(word: str) -> str:
    """Return the stem of ``word`` (as NLTK's ``PorterStemmer().stem(word, to_lowercase=False)``)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 2:
        return word
    for step in (_step1a, _step1b, _step1c, _step2, _step3, _step4, _step5a, _step5b):
        word = step(word)
    return word


def _is_consonant(word: str, i: int) -> bool:
    """Return whether ``word[i]`` is a consonant: not a vowel, nor a "y" after a consonant."""
    if word[i] in _VOWELS:
        return False
    if word[i] == "y":
        # A run of "y"s alternates, resolved in a loop (a recursion could exceed Python's depth).
        negate = False
        while i > 0 and word[i] == "y":
            negate = not negate
            i -= 1
        return (word[i] not in _VOWELS) != negate
    return True


def _consonant_flags(word: str) -> list[bool]:
    """Return, for each character of ``word``, whether it is a consonant, in one pass."""
    flags: list[bool] = []
    for i, ch in enumerate(word):
        flags.append(False if ch in _VOWELS else (i == 0 or not flags[i - 1]) if ch == "y" else True)
    return flags


def _measure(word: str) -> int:
    """Return Porter's m: the number of vowel-consonant sequences in ``word``'s [C](VC){m}[V] form."""
    return "".join("c" if consonant else "v" for consonant in _consonant_flags(word)).count("vc")


def _positive(word: str) -> bool:
    """Return whether m > 0."""
    return _measure(word) > 0


def _over_one(word: str) -> bool:
    """Return whether m > 1."""
    return _measure(word) > 1


def _contains_vowel(word: str) -> bool:
    """Return whether ``word`` holds a vowel (Porter's *v*)."""
    return not all(_consonant_flags(word))


def _ends_double_consonant(word: str) -> bool:
    """Return whether ``word`` ends with a double consonant (Porter's *d)."""
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _ends_cvc(word: str) -> bool:
    """Return whether ``word`` ends consonant-vowel-consonant, the last not w, x or y (Porter's *o).

    NLTK's extension: a two-letter vowel-consonant word counts too.
    """
    n = len(word)
    return (
        n >= 3
        and _is_consonant(word, n - 3)
        and not _is_consonant(word, n - 2)
        and _is_consonant(word, n - 1)
        and word[-1] not in "wxy"
    ) or (n == 2 and not _is_consonant(word, 0) and _is_consonant(word, 1))


def _apply_rules(word: str, rules: Sequence[Rule]) -> str:
    """Apply the first rule whose suffix ends ``word`` ("*d": a double consonant), if its condition holds.

    A rule whose suffix matches but whose condition fails ends the list: no later rule is tried.
    """
    for suffix, replacement, condition in rules:
        if suffix == "*d" and _ends_double_consonant(word):
            stem_ = word[:-2]
            return stem_ + replacement if condition is None or condition(stem_) else word
        if word.endswith(suffix):
            stem_ = word[: -len(suffix)] if suffix else word
            return stem_ + replacement if condition is None or condition(stem_) else word
    return word


def _step1a(word: str) -> str:
    """SSES -> SS, IES -> I, SS -> SS, S -> (NLTK: a four-letter "-ies" word keeps "ie": dies -> die)."""
    if word.endswith("ies") and len(word) == 4:
        return word[:-3] + "ie"
    return _apply_rules(word, (("sses", "ss", None), ("ies", "i", None), ("ss", "ss", None), ("s", "", None)))


def _step1b(word: str) -> str:
    """(m>0) EED -> EE; (*v*) ED ->; (*v*) ING ->; then AT, BL, IZ gain an E, a double consonant is halved."""
    if word.endswith("ied"):  # NLTK: spied -> spi, but died -> die
        return word[:-3] + ("ie" if len(word) == 4 else "i")
    if word.endswith("eed"):
        stem_ = word[:-3]
        return stem_ + "ee" if _measure(stem_) > 0 else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _contains_vowel(word[: -len(suffix)]):
            short = word[: -len(suffix)]
            break
    else:
        return word
    return _apply_rules(
        short,
        (
            ("at", "ate", None),
            ("bl", "ble", None),
            ("iz", "ize", None),
            # (*d and not (*L or *S or *Z)) -> single letter
            ("*d", short[-1], lambda _: short[-1] not in "lsz"),
            # (m=1 and *o) -> E
            ("", "e", lambda s: _measure(s) == 1 and _ends_cvc(s)),
        ),
    )


def _step1c(word: str) -> str:
    """Y -> I after a consonant that is not the whole stem (NLTK's rule: happy -> happi, enjoy stays)."""
    return _apply_rules(word, (("y", "i", lambda s: len(s) > 1 and _is_consonant(s, len(s) - 1)),))


_STEP2 = (
    ("ational", "ate", _positive),
    ("tional", "tion", _positive),
    ("enci", "ence", _positive),
    ("anci", "ance", _positive),
    ("izer", "ize", _positive),
    ("bli", "ble", _positive),
    ("alli", "al", _positive),
    ("entli", "ent", _positive),
    ("eli", "e", _positive),
    ("ousli", "ous", _positive),
    ("ization", "ize", _positive),
    ("ation", "ate", _positive),
    ("ator", "ate", _positive),
    ("alism", "al", _positive),
    ("iveness", "ive", _positive),
    ("fulness", "ful", _positive),
    ("ousness", "ous", _positive),
    ("aliti", "al", _positive),
    ("iviti", "ive", _positive),
    ("biliti", "ble", _positive),
    ("fulli", "ful", _positive),
)


def _step2(word: str) -> str:
    """Double suffixes to single ones for m > 0 (ational -> ate...), with NLTK's ALLI, FULLI, LOGI rules."""
    # NLTK: ALLI -> AL first, and the result through this step again.
    if word.endswith("alli") and _positive(word[:-4]):
        return _step2(word[:-4] + "al")
    # NLTK: the "l" of LOGI -> LOG stays with the stem for its measure, so geo-, theo- stems work too.
    logi: Rule = ("logi", "log", lambda _: _positive(word[:-3]))
    return _apply_rules(word, (*_STEP2, logi))


_STEP3 = (
    ("icate", "ic", _positive),
    ("ative", "", _positive),
    ("alize", "al", _positive),
    ("iciti", "ic", _positive),
    ("ical", "ic", _positive),
    ("ful", "", _positive),
    ("ness", "", _positive),
)


def _step3(word: str) -> str:
    """-ic-, -full, -ness and the like, for m > 0."""
    return _apply_rules(word, _STEP3)


_STEP4 = (
    *((suffix, "", _over_one) for suffix in ("al", "ance", "ence", "er", "ic", "able", "ible", "ant")),
    *((suffix, "", _over_one) for suffix in ("ement", "ment", "ent")),
    # (m>1 and (*S or *T)) ION ->
    ("ion", "", lambda s: _measure(s) > 1 and s[-1] in "st"),
    *((suffix, "", _over_one) for suffix in ("ou", "ism", "ate", "iti", "ous", "ive", "ize")),
)


def _step4(word: str) -> str:
    """Remove the suffixes left (-ant, -ence, ...), for m > 1."""
    return _apply_rules(word, _STEP4)


def _step5a(word: str) -> str:
    """(m>1) E ->; (m=1 and not *o) E ->: both conditions tried, unlike a rule list."""
    if word.endswith("e"):
        stem_ = word[:-1]
        if _measure(stem_) > 1 or (_measure(stem_) == 1 and not _ends_cvc(stem_)):
            return stem_
    return word


def _step5b(word: str) -> str:
    """(m>1 and *d and *L) -> single letter: controll -> control."""
    return _apply_rules(word, (("ll", "l", lambda _: _measure(word[:-1]) > 1),))
