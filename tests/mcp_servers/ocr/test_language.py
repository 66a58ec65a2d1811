"""A page's language is told from its text, with or without the diacritics the reader kept."""

from __future__ import annotations

import pytest

from mcp_servers.ocr.language import detect_language, fold


@pytest.mark.parametrize(
    "text",
    [
        "Tổng cộng: 321.330 ₫\nCảm ơn quý khách!",
        # RapidOCR's reading of a Vietnamese receipt: no marks, spaces lost.
        "PHIEU THANH TOAN\nNgay: 06/12/2023\nThungan:Nguyen Thi Lan\nTong thanh toan 356,400",
        "HOADON BAN HANG\nQuan1,TP.HoChi Minh\nTamtinh 360,000",
    ],
)
def test_vietnamese_is_recognised_with_or_without_its_marks(text: str) -> None:
    assert detect_language(text) == "vi"


@pytest.mark.parametrize(
    "text",
    [
        "SUNRISE TRADING SDN BHD\nTOTAL 44.95\nCASH 50.00\nCHANGE 5.05",
        # Malaysian receipts: Malay words and Chinese names that look like Vietnamese syllables.
        "TONG HENG TRADING\nNO 5, JALAN SAGU 18, TAMAN DAYA\nQUANTITY 2\nTIEN KEE RESTAURANT",
        "Café crème brûlée 4.50 €",  # accented, but French
    ],
)
def test_english_and_malay_receipts_are_not_taken_for_vietnamese(text: str) -> None:
    assert detect_language(text) == "en"


def test_folding_keeps_one_character_for_each() -> None:
    assert fold("Tổng cộng ĐÃ THANH TOÁN") == "Tong cong DA THANH TOAN"
    assert len(fold("Hồ Chí Minh")) == len("Hồ Chí Minh")
