"""The preprocessing pieces: normalisation, tokenization, negation, stemming."""

import sys

import pytest

from model.serving.text import analyse, normalize, preprocess, stem, tokenize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("see http://t.co/abc now", "see now"),
        ("see HTTPS://example.com/x?y=1 now", "see now"),
        ("see www.example.com now", "see now"),
        ("fish &amp; chips &lt;3", "fish & chips <3"),
        ("@Bob hi", "@user hi"),
        ("mail me at a@b.com", "mail me at a@b.com"),
        ("LOOOOVE it!!!!!", "loooove it!!!!!"),
    ],
)
def test_normalize(raw, expected):
    assert " ".join(normalize(raw).split()) == expected


def test_tokenize_keeps_emoticons_hashtags_and_contractions():
    tokens = tokenize("i can't wait :-) <3 #sofun :( 3.5 stars!!")
    assert tokens == ["i", "can't", "wait", ":-)", "<3", "#sofun", ":(", "3.5", "stars", "!!"]


def test_tokenize_keeps_emoji_as_tokens():
    assert tokenize("yay 😀 ♥") == ["yay", "😀", "♥"]


def test_stemming_is_porter_and_memoised():
    analyse.cache_clear()
    assert stem("loving") == "love"
    assert stem("loving") == "love"
    info = analyse.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert info.maxsize is not None, "the memo must be bounded"


def test_elongations_are_shortened_per_token():
    assert preprocess("sooooo goooood!!!!!") == preprocess("sooo goood!!!")
    assert preprocess("sooooo goooood!!!!!")[-1] == "!!"


def test_negation_marks_the_sentiment_words_it_negates_until_clause_end():
    assert preprocess("not good, but fine") == ["NOT_good", "but", "fine"]
    assert preprocess("I don't like it! love it") == ["i", "NOT_like", "it", "!", "love", "it"]
    assert preprocess("not good :) good") == ["NOT_good", ":)", "good"]


def test_a_negation_of_no_sentiment_word_stays_a_token():
    assert preprocess("not at all") == ["not", "at", "all"]
    assert preprocess("dont go") == ["dont", "go"]


def test_negation_reaches_a_few_tokens_only():
    # The scope is the NEGATION_SCOPE (4) tokens after the negation: "good" is the fifth here.
    assert preprocess("not one two three four good") == ["not", "one", "two", "three", "four", "good"]
    assert preprocess("not one two three good") == ["one", "two", "three", "NOT_good"]


def test_negation_marking_can_be_turned_off():
    assert preprocess("never happy", mark_negation=False) == ["never", "happi"]


def test_negation_words_are_kept():
    for word in ("not", "no", "never"):
        assert word in preprocess(f"{word} way")


def test_urls_and_handles_do_not_become_tokens():
    assert preprocess("@alice look https://x.co/1 www.y.org") == ["@user", "look"]


@pytest.mark.parametrize("text", ["", "   ", "...", "\u200b", "🙂" * 300])
def test_degenerate_text_gives_a_token_list(text):
    assert isinstance(preprocess(text), list)


def test_tokens_are_interned_so_tables_find_them_by_identity():
    tokens = preprocess("Not so good :) @bob #win loooove it!!! 42 ...")
    assert len(tokens) >= 6
    assert all(sys.intern(token) is token for token in tokens)
