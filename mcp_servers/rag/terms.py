"""Words as the sparse (BM25) side of retrieval sees them.

Text is NFKC-normalised and lower-cased, split on Unicode word characters, stripped of a short
list of English function words, and stemmed with the Snowball English stemmer, so "policies"
and "policy" meet. Words with non-ASCII letters (Vietnamese syllables, for instance) are kept
as written: an English stemmer has nothing to say about them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# Lucene's classic English stop set: words too common to tell documents apart.
_LUCENE_STOPWORDS = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with"
)
STOPWORDS = frozenset(_LUCENE_STOPWORDS.split())

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_WORD_CHARS = 40
_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    if not word.isascii() or word.isdigit():
        return word
    return str(_stemmer.stemWord(word))


def normalise(text: str) -> str:
    """Unicode-normalised (NFKC), lower-cased text."""
    return unicodedata.normalize("NFKC", text).lower()


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order, repeats kept (term frequency counts them)."""
    return [
        _stem(word)
        for word in _WORD.findall(normalise(text))
        if word not in STOPWORDS and len(word) <= _MAX_WORD_CHARS and word != "_"
    ]
