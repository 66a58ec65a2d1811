"""Engines are chosen per call or by configuration, and refuse clearly when they cannot run;
`auto` reads a Vietnamese page with Tesseract's Vietnamese model on RapidOCR's lines."""

from __future__ import annotations

import shutil
import unicodedata

import pytest

from agentmesh.settings import Settings, load_settings
from mcp_servers.ocr import layout
from mcp_servers.ocr.engines import AutoEngine, Engines, RapidOcrEngine, TesseractEngine, tesseract_lines
from mcp_servers.ocr.errors import EngineUnavailable
from tests.conftest import require_backend
from tests.mcp_servers.ocr.rendering import text_image

VIETNAMESE_RECEIPT = text_image(
    [
        "CÀ PHÊ SƯƠNG MAI",
        "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
        ("Ngày:", "06/12/2023"),
        ("Tạm tính", "330.000"),
        ("Thuế GTGT (10%)", "33.000"),
        ("Tổng cộng", "363.000 ₫"),
    ],
    size=30,
    width=760,
)


@pytest.fixture(scope="module")
def rapidocr() -> RapidOcrEngine:
    return RapidOcrEngine()


@pytest.fixture(scope="module")
def vietnamese_tesseract() -> TesseractEngine:
    engine = TesseractEngine("vie")
    if not engine.reads("vi"):
        require_backend("tesseract-ocr-vie", "Tesseract with its Vietnamese model is not installed")
    return engine


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


TSV = "\n".join(
    [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "4\t1\t1\t1\t1\t0\t10\t10\t200\t30\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t10\t80\t30\t96.5\tTổng",
        "5\t1\t1\t1\t1\t2\t100\t12\t110\t28\t91.5\tcộng:",
        "5\t1\t1\t1\t2\t1\t10\t50\t120\t30\t88\t1.250.000",
        "5\t1\t1\t1\t2\t2\t140\t50\t10\t30\t-1\t ",
    ]
)


def test_tesseract_tsv_words_become_lines_with_boxes_and_confidence() -> None:
    first, second = tesseract_lines(TSV)
    assert first.text == "Tổng cộng:"
    assert first.box == [(10, 10), (210, 10), (210, 40), (10, 40)]
    assert first.confidence == pytest.approx(0.94)
    assert second.text == "1.250.000"
    assert second.confidence == pytest.approx(0.88)


def test_the_configured_engine_is_the_default(settings: Settings) -> None:
    assert Engines(settings).get().name == "auto"
    assert Engines(settings).get("rapidocr").name == "rapidocr"
    if shutil.which("tesseract"):
        configured = load_settings(AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_OCR_ENGINE="tesseract")
        assert Engines(configured).get().name == "tesseract"
        assert Engines(configured).get("rapidocr").name == "rapidocr"


def test_an_unknown_engine_names_the_known_ones(settings: Settings) -> None:
    with pytest.raises(EngineUnavailable, match="expected one of auto, rapidocr, tesseract"):
        Engines(settings).get("gpt-vision")


def test_tesseract_without_its_binary_or_languages_is_unavailable() -> None:
    found = TesseractEngine("eng+vie")
    if shutil.which("tesseract") is None:
        assert "not installed" in (found.unavailable_reason() or "")
    else:
        assert found.unavailable_reason() is None
        missing = TesseractEngine("xyz")
        assert "none of the Tesseract languages xyz is installed" in (missing.unavailable_reason() or "")


def test_a_wide_gap_parts_a_tesseract_line_into_label_and_value() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    words = [
        "5\t1\t1\t1\t1\t1\t10\t10\t60\t30\t95\tTổng",
        "5\t1\t1\t1\t1\t2\t80\t10\t70\t30\t95\tcộng",  # a space: 10 px
        "5\t1\t1\t1\t1\t3\t400\t10\t110\t30\t90\t363.000",  # across the receipt: 250 px
    ]
    label, value = tesseract_lines("\n".join([header, *words]))
    assert label.text == "Tổng cộng" and label.right == 150
    assert value.text == "363.000" and value.left == 400


def test_tesseract_text_comes_back_composed() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    decomposed = unicodedata.normalize("NFD", "Hồ")
    [line] = tesseract_lines(f"{header}\n5\t1\t1\t1\t1\t1\t10\t10\t60\t30\t95\t{decomposed}")
    assert line.text == "Hồ" and len(line.text) == 2


def test_rapidocr_drops_vietnamese_diacritics_but_the_page_is_known_as_vietnamese(
    rapidocr: RapidOcrEngine,
) -> None:
    # Why `auto` exists: RapidOCR's recogniser has no Vietnamese letters.
    read = rapidocr.recognise(VIETNAMESE_RECEIPT)
    assert read.engine == "rapidocr" and read.language == "vi"
    assert "Hồ Chí Minh" not in nfc(layout.page_text(read.lines))


def test_auto_reads_a_vietnamese_page_with_its_diacritics(
    rapidocr: RapidOcrEngine, vietnamese_tesseract: TesseractEngine
) -> None:
    read = AutoEngine(rapidocr, vietnamese_tesseract).recognise(VIETNAMESE_RECEIPT)
    text = nfc(layout.page_text(read.lines))
    assert read.engine == "rapidocr+tesseract" and read.language == "vi"
    for expected in ("CÀ PHÊ SƯƠNG MAI", "Hồ Chí Minh", "Tạm tính", "Tổng cộng", "363.000"):
        assert expected in text, text
    # The lines keep RapidOCR's boxes: label and value stay two boxes on one row.
    assert any(line.text == "Tổng cộng" for line in read.lines), [line.text for line in read.lines]


def test_auto_keeps_rapidocr_for_english_and_when_told_the_language(
    rapidocr: RapidOcrEngine, vietnamese_tesseract: TesseractEngine
) -> None:
    auto = AutoEngine(rapidocr, vietnamese_tesseract)
    english = text_image(["SUNRISE TRADING SDN BHD", ("TOTAL", "44.95"), ("CASH", "50.00")])
    assert (auto.recognise(english).engine, auto.recognise(english).language) == ("rapidocr", "en")
    told = auto.recognise(VIETNAMESE_RECEIPT, "en")
    assert (told.engine, told.language) == ("rapidocr", "en")


def test_auto_without_the_vietnamese_model_keeps_rapidocrs_reading(rapidocr: RapidOcrEngine) -> None:
    read = AutoEngine(rapidocr, TesseractEngine("vie", binary="/nonexistent/tesseract")).recognise(
        VIETNAMESE_RECEIPT
    )
    assert read.engine == "rapidocr" and read.language == "vi"
    assert read.lines
