"""Text normalisation for matching: case- and diacritics-insensitive, English and Vietnamese alike.

Vietnamese is written with stacked diacritics that users often omit ("Công nợ" typed as "cong no"),
so everything lexical is compared on the folded form: lowercased, NFKD-decomposed with the
combining marks removed, and the letters NFKD cannot decompose mapped to their base (Vietnamese
`đ`/`Đ` to `d`; also `ø`, `ł`, `æ`, ...).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

# Letters with a stroke or ligature, not a combining mark, which NFKD leaves alone (applied after
# case folding, so only lowercase forms are needed).
_UNDECOMPOSABLE = str.maketrans({"đ": "d", "ð": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe"})
_WORD = re.compile(r"[a-z0-9]+")
_DIGIT = re.compile(r"[0-9]")
# Marks no other major Latin-script language uses: horn (ơ, ư), hook above (ả), dot below (ạ),
# breve (ă); a circumflex carrying a second tone mark (ấ, ể) is Vietnamese too.
_VIETNAMESE_MARKS = frozenset("\u031b\u0309\u0323\u0306")
_CIRCUMFLEX = "\u0302"

# Frequent Vietnamese syllables, folded, that are not English words: two of them mark a message as
# Vietnamese typed without accents.
_VIETNAMESE_SYLLABLES = frozenset(
    """
    khong cua duoc nhieu dau roi chua giup toi tren duoi khach nguoi nhung trong minh chung nao voi thi
    nhu xin ngay tien hoa gia mua viec cong giao kiem hom thang biet muon lam nhan duong thanh toan chinh
    sach tra doi xuat nhap kho hang bao mot cho nay gi chuyen cuoi ngon uong thoi tiet tuan chieu
    phai cung nhat rat qua dung tai vao hoac neu vay sau truoc ngoai giua thuoc lieu khoan
    dang van gom cai tao ton luong hien tinh trang lich cac bieu
    """.split()  # noqa: SIM905 - a word list reads better as prose than as quoted strings
)

# English and (folded) Vietnamese function words. A handful of examples per agent would give even
# "me" or "cua" a high IDF; lexical scoring treats these as common whatever the examples say.
_ENGLISH_FUNCTION_WORDS = frozenset(
    """
    a an the and or but if then so of to in on at by for with from about into over as is are was were
    be been being am do does did have has had i me my mine we us our you your he him his she her it its
    they them their this that these those what which who whom how when why can could would should will
    shall may might must please tell show give want need know let get there here just also too very some
    any all much many more most such than up out off
    """.split()  # noqa: SIM905 - a word list reads better as prose than as 150 quoted strings
)
FUNCTION_WORDS = _ENGLISH_FUNCTION_WORDS | frozenset(
    """
    la cua co khong cho toi ban minh chung nay do gi nao va voi roi da dang se duoc mot nhung cac trong
    tren duoi ve thi ma nhu de hay hoac giup xin vui long ha nhe vay oi bao nhieu the lam sao
    """.split()  # noqa: SIM905
)

# The shape of a Vietnamese syllable typed without accents: an initial consonant, then a rhyme
# (ă, â folded to a; ê to e; ô, ơ to o; ư to u), open or closed by one of eight finals. Most English
# words do not fit ("book", "flight", "what"); the short ones that do ("me", "to", "can", "hi") are
# set aside as English, so a message of well-formed syllables that are not English is Vietnamese
# ("dat ve may bay di da nang") however few of its words a word list knows.
_INITIAL = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|b|c|d|g|h|k|l|m|n|p|r|s|t|v|x"
_OPEN_RHYMES = (
    "a e i o u y ai ao au ay eo eu ia iu oa oe oi ua ue ui uu uy ya oai oay uay uoi uou uya ieu yeu"
)
_CLOSABLE_NUCLEI = "a e i o u y ie ye oa oe ua ue uo uy uye"
_FINALS = "ch nh ng c m n p t"
_RHYMES = sorted(
    {*_OPEN_RHYMES.split(), *(n + f for n in _CLOSABLE_NUCLEI.split() for f in _FINALS.split())},
    key=len,
    reverse=True,
)
_SYLLABLE = re.compile(f"(?:{_INITIAL})?(?:{'|'.join(_RHYMES)})")
_ENGLISH_SYLLABLE_WORDS = _ENGLISH_FUNCTION_WORDS | {"not", "true", "hi", "ai", "ok", "yes", "bye"}
# A code such as SH-1042 or SKU-002 is neither language.
_CODE = re.compile(r"[A-Za-z]+-?[0-9][\w-]*")
_VOWEL = re.compile("[aeiouy]")


def fold(text: str) -> str:
    """Lowercase `text` and strip its diacritics: `"Đơn hàng ĐÃ giao"` -> `"don hang da giao"`."""
    decomposed = unicodedata.normalize("NFKD", text).casefold().translate(_UNDECOMPOSABLE)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The folded words of `text`: runs of ASCII letters and digits, punctuation dropped."""
    return _WORD.findall(fold(text))


def shape(word: str) -> str:
    """Digits replaced by `9`, so codes match by form: "0123456789" and "0312345678" are both
    ten-digit tax codes, "1042" and "2077" both four-digit shipment numbers."""
    return _DIGIT.sub("9", word)


def stem(word: str) -> str:
    """A light English plural/possessive stem, so "shipments" matches "shipment".

    Deliberately minimal: words of four letters or fewer (most Vietnamese syllables, codes like
    "mst") are left alone, as are "-ss" and "-us" endings ("address", "status").
    """
    if len(word) <= 4 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    if word.endswith(("sses", "uses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Lexical matching terms: stemmed words plus adjacent-word bigrams.

    Bigrams carry Vietnamese, whose words are often two syllables ("cong no" = debt, "don hang" =
    order) whose single syllables are ambiguous on their own; they also sharpen English phrases.
    """
    stems = [shape(stem(word)) for word in words(text)]
    return stems + [f"{left} {right}" for left, right in itertools.pairwise(stems)]


def is_function_term(term: str) -> bool:
    """Whether every word of a term (word or bigram) is a function word ("me", "cua", "of the")."""
    return all(word in FUNCTION_WORDS for word in term.split(" "))


_WHAT_ABOUT = frozenset({"con"})
"""Words that ask "what about …?" without being function words elsewhere ("còn X thì sao?")."""


def only_identifiers(text: str) -> bool:
    """Whether the text names an identifier and says nothing else but function words ("and
    0312345678?"); "show me more" names none."""
    if not _DIGIT.search(text):
        return False
    return not any(
        word not in _WHAT_ABOUT
        and not is_function_term(word)
        and any(character.isalpha() for character in word)
        for word in words(_CODE.sub(" ", text))
    )


def looks_vietnamese(text: str) -> bool:
    """Whether `text` is Vietnamese: written with its diacritics, or without them, using two common
    Vietnamese syllables that are not English words ("lo hang giao toi dau roi") or made of
    Vietnamese syllables ("dat ve may bay di da nang")."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    if "đ" in decomposed or any(char in _VIETNAMESE_MARKS for char in decomposed):
        return True
    if any(
        char == _CIRCUMFLEX and unicodedata.combining(following)
        for char, following in itertools.pairwise(decomposed)
    ):
        return True
    if len(set(words(text)) & _VIETNAMESE_SYLLABLES) >= 2:
        return True
    return _typed_without_accents(text)


def _typed_without_accents(text: str) -> bool:
    """At least two words that are Vietnamese syllables and not English words, and at most one word
    in four of the rest that could not be a Vietnamese syllable (names, loanwords)."""
    # A word of consonants only is an abbreviation ("mst", "vnd") in either language; a lone one is
    # what is left of an English contraction ("don't", "it's").
    letters = [
        word
        for word in words(_CODE.sub(" ", text))
        if word.isalpha() and (len(word) == 1 or _VOWEL.search(word))
    ]
    vietnamese = sum(1 for w in letters if w not in _ENGLISH_SYLLABLE_WORDS and _SYLLABLE.fullmatch(w))
    foreign = sum(1 for w in letters if not _SYLLABLE.fullmatch(w))
    return vietnamese >= 2 and foreign * 4 <= vietnamese
