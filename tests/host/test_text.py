"""Text folding for matching: lowercase, no diacritics (Vietnamese đ included), stable terms."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from host.text import fold, is_function_term, looks_vietnamese, stem, terms, words


def test_fold_lowercases_and_strips_vietnamese_diacritics() -> None:
    assert fold("Công nợ của khách hàng") == "cong no cua khach hang"
    assert fold("Đơn hàng ĐÃ GIAO") == "don hang da giao"
    assert fold("Ảnh chụp hóa đơn, biên lai") == "anh chup hoa don, bien lai"


@given(st.text())
def test_fold_is_idempotent_and_leaves_no_combining_marks(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert "đ" not in folded


def test_words_drop_punctuation_and_keep_codes() -> None:
    assert words("Lô hàng SH-1042 đang ở đâu?") == ["lo", "hang", "sh", "1042", "dang", "o", "dau"]


def test_terms_match_codes_by_shape_and_pair_adjacent_words() -> None:
    assert terms("MST 0123456789") == ["mst", "9999999999", "mst 9999999999"]
    assert terms("Công nợ") == terms("cong no") == ["cong", "no", "cong no"]


def test_stem_merges_plurals_without_touching_short_words_or_status() -> None:
    assert [stem(w) for w in ["shipments", "policies", "addresses", "taxes", "status", "mst", "hang"]] == [
        "shipment",
        "policy",
        "address",
        "tax",
        "status",
        "mst",
        "hang",
    ]


def test_function_terms_are_those_made_only_of_function_words() -> None:
    assert is_function_term("me") and is_function_term("of the") and is_function_term("cua")
    assert not is_function_term("shipment") and not is_function_term("the shipment")


def test_vietnamese_is_recognised_with_or_without_accents() -> None:
    assert looks_vietnamese("Đơn hàng đang ở đâu?")
    assert looks_vietnamese("Chính sách đổi trả là gì?")
    assert looks_vietnamese("lo hang SH-5120 giao toi dau roi")
    assert not looks_vietnamese("where is my package")
    assert not looks_vietnamese("café crème brûlée")
    assert not looks_vietnamese("the bank hang time")


def test_vietnamese_typed_without_accents_is_recognised_by_its_syllables() -> None:
    # No word of these is on the list of common syllables; every one is a Vietnamese syllable.
    assert looks_vietnamese("Dat ve may bay di Da Nang")
    assert looks_vietnamese("Con van don SH-1021?")
    # English whose short words are Vietnamese syllables too, or with Vietnamese names in it.
    assert not looks_vietnamese("Book me a flight to Da Nang")
    assert not looks_vietnamese("What is the debt for Nguyen Van An?")
    assert not looks_vietnamese("not true")
    assert not looks_vietnamese("Formation of a thymus from rat ES cells in nude mouse↔rat ES chimeras.")


def test_an_abbreviation_in_an_unaccented_vietnamese_message_does_not_make_it_english() -> None:
    assert looks_vietnamese("Cong no MST 3428557611")
    assert not looks_vietnamese("no, don't do that")
