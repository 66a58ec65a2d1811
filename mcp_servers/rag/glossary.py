"""Vietnamese business words in English: a query in Vietnamese over documents in English.

Tenants ask in Vietnamese, with or without diacritics ("Chinh sach doi tra la gi?"), about a
knowledge base often written in English. The sparse side matches no word of such a query and
MiniLM, an English encoder, places Vietnamese text poorly, so the right document comes back with
the wrong passage, or not at all. Before searching, a query that uses the words below gets their
English equivalents appended (dictionary query translation, the classic cross-language retrieval
baseline); the original words stay, so Vietnamese documents still match them. Words outside this
list are not translated: it covers the policies, terms and procedures a company knowledge base
holds, not the language.
"""

from __future__ import annotations

import re
import unicodedata

GLOSSARY: dict[str, str] = {
    "chinh sach": "policy",
    "quy dinh": "policy rules",
    "quy trinh": "procedure",
    "doi tra": "return returns",
    "tra hang": "return returns",
    "tra lai": "return returns",
    "doi hang": "return exchange",
    "hoan tien": "refund",
    "van chuyen": "shipping",
    "giao hang": "shipping delivery",
    "thanh toan": "payment",
    "dieu khoan": "terms",
    "khach hang moi": "new customers",
    "chiet khau": "discount",
    "giam gia": "discount",
    "tra som": "early payment",
    "thanh toan som": "early payment",
    "bao hanh": "warranty",
    "hu hong": "damaged",
    "bi loi": "defective damaged",
    "thoi han": "within days",
    "bao lau": "how long days",
    "hoa don": "invoice",
    "qua han": "overdue late",
    "phi": "fee",
}
"""Folded Vietnamese words (lower case, no diacritics) and their English equivalents."""

_FOLD = str.maketrans({"đ": "d", "Đ": "d"})
_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, GLOSSARY), key=len, reverse=True)) + r")\b")


def fold(text: str) -> str:
    """Lower case without diacritics: "Chính sách đổi trả" -> "chinh sach doi tra"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD)).casefold()
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def with_english(query: str) -> str:
    """`query` followed by the English of the glossary words it uses (unchanged when none)."""
    english = dict.fromkeys(GLOSSARY[match] for match in _PATTERN.findall(fold(query)))
    return f"{query} ({' '.join(english)})" if english else query
