"""Engines are chosen per call or by configuration, and refuse clearly when they cannot run."""

from __future__ import annotations

import shutil

import pytest

from agentmesh.settings import Settings, load_settings
from mcp_servers.ocr.engines import Engines, TesseractEngine, tesseract_lines
from mcp_servers.ocr.errors import EngineUnavailable

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
    assert Engines(settings).get().name == "rapidocr"
    if shutil.which("tesseract"):
        configured = load_settings(AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_OCR_ENGINE="tesseract")
        assert Engines(configured).get().name == "tesseract"
        assert Engines(configured).get("rapidocr").name == "rapidocr"


def test_an_unknown_engine_names_the_known_ones(settings: Settings) -> None:
    with pytest.raises(EngineUnavailable, match="expected one of rapidocr, tesseract"):
        Engines(settings).get("gpt-vision")


def test_tesseract_without_its_binary_or_languages_is_unavailable() -> None:
    found = TesseractEngine("eng+vie")
    if shutil.which("tesseract") is None:
        assert "not installed" in (found.unavailable_reason() or "")
    else:
        assert found.unavailable_reason() is None
        missing = TesseractEngine("xyz")
        assert "none of the Tesseract languages xyz is installed" in (missing.unavailable_reason() or "")
