"""Which language a page is written in, from the text a recogniser read off it.

The server reads English (and Malay) with RapidOCR and Vietnamese with Tesseract's Vietnamese
model, so the language has to be known before the second pass. RapidOCR's recogniser drops
Vietnamese diacritics ("Tổng cộng" comes back as "Tong cong", often with the spaces lost as
well), so the signs are of two kinds: letters only Vietnamese uses, where any survive, and words
that mark a Vietnamese receipt or address, looked for with diacritics and spaces removed. The
words are chosen not to occur inside English or Malay words ("quan" is in "quantity", "tong" and
"tien" are Malaysian-Chinese names: none of them is a sign).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Language = Literal["en", "vi"]
LANGUAGES: tuple[Language, ...] = ("en", "vi")

# ă â đ ê ô ơ ư, ĩ ũ and the block of Vietnamese letters with tone marks (U+1EA0-U+1EF9).
_VIETNAMESE_LETTER = re.compile(r"[ăâđêôơưĩũĂÂĐÊÔƠƯĨŨ\u1ea0-\u1ef9]")
_MARKERS = (
    "nguyen", "phuong", "thanhtoan", "thanhtien", "tongcong", "tamtinh", "hoadon", "khachhang",
    "quykhach", "tienkhach", "tienthua", "tientralai", "thungan", "camon", "hengaplai", "giamgia",
    "soluong", "dongia", "nhanvien", "diachi", "dienthoai", "masothue", "hochiminh", "hanoi",
    "danang", "vietnam", "ngay", "thang", "vnd",
)  # fmt: skip
# Two distinct markers, or this many Vietnamese letters, make a page Vietnamese.
MIN_MARKERS = 2
MIN_VIETNAMESE_LETTERS = 3


def detect_language(text: str) -> Language:
    """'vi' when the text shows the signs of Vietnamese, 'en' otherwise."""
    if len(_VIETNAMESE_LETTER.findall(text)) >= MIN_VIETNAMESE_LETTERS:
        return "vi"
    squeezed = re.sub(r"[^a-z]", "", fold(text).lower())
    found = sum(marker in squeezed for marker in _MARKERS)
    return "vi" if found >= MIN_MARKERS else "en"


def fold(text: str) -> str:
    """`text` without diacritics, one character for each character ("Tổng Đài" -> "Tong Dai"), so
    positions found in the folded text hold in the original."""
    return "".join(_fold_char(char) for char in text)


def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d" if char == "đ" else "D"
    base = unicodedata.normalize("NFD", char)[0]
    return base if not unicodedata.combining(base) else char
