"""OCR engines: RapidOCR (default, models ship in its wheel) and Tesseract when installed.

An engine turns one page image into text lines with boxes and confidences. Engines are loaded
once per process and are safe to call from worker threads: the MCP server runs recognition off
the event loop so it keeps answering while a page is read.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import threading
from collections import defaultdict
from functools import cached_property
from typing import Any, Literal, Protocol

import cv2
import numpy as np
import structlog
from PIL import Image

from agentmesh.logging import adopt_library_logger
from agentmesh.settings import Settings
from mcp_servers.ocr.document import Point, TextLine
from mcp_servers.ocr.errors import EngineFailure, EngineUnavailable
from mcp_servers.ocr.spacing import restore_spaces

log = structlog.get_logger(__name__)

EngineName = Literal["rapidocr", "tesseract"]
ENGINE_NAMES: tuple[EngineName, ...] = ("rapidocr", "tesseract")

TESSERACT_TIMEOUT_SECONDS = 120.0


class OcrEngine(Protocol):
    """Reads the text lines of one page image."""

    name: EngineName

    def unavailable_reason(self) -> str | None:
        """Why the engine cannot run here, or None when it can."""

    def recognise(self, image: Image.Image) -> list[TextLine]:
        """The lines of text on `image`, in the engine's order, with boxes in image pixels."""


class RapidOcrEngine:
    """PP-OCRv4 detection and recognition through ONNX Runtime (the `rapidocr-onnxruntime` wheel)."""

    name: EngineName = "rapidocr"

    def __init__(self) -> None:
        self._ocr: Any = None
        # One page at a time: the ONNX sessions already use every core, and RapidOCR keeps
        # per-call thresholds on the shared instance.
        self._lock = threading.Lock()

    def unavailable_reason(self) -> str | None:
        return None

    def recognise(self, image: Image.Image) -> list[TextLine]:
        with self._lock:
            ocr = self._loaded()
            rgb = image.convert("RGB")
            try:
                result, _ = ocr(rgb, return_word_box=True)
            except Exception as exc:  # the engine's own errors carry no stable type
                log.warning("rapidocr_failed", error=str(exc))
                raise EngineFailure(f"RapidOCR could not read the page: {exc}") from exc
        gray = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2GRAY)
        return [_rapidocr_line(gray, item) for item in result or ()]

    def _loaded(self) -> Any:
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR

            self._ocr = RapidOCR()
            # RapidOCR gives its loggers plain-text handlers of their own; ours render them.
            for name in ("RapidOCR", "OrtInferSession"):
                adopt_library_logger(name)
        return self._ocr


def _rapidocr_line(gray: np.ndarray, item: list[Any]) -> TextLine:
    # With return_word_box, an item is [box, text, score, character boxes, characters, scores].
    box, text, score = item[0], item[1], item[2]
    corners: list[Point] = [(float(x), float(y)) for x, y in box]
    if len(item) >= 5 and item[3] and item[4]:
        text = restore_spaces(gray, corners, item[4], item[3])
    return TextLine(text=text.strip(), box=corners, confidence=round(min(max(float(score), 0.0), 1.0), 4))


class TesseractEngine:
    """The `tesseract` command (Debian: tesseract-ocr, tesseract-ocr-vie), read as TSV."""

    name: EngineName = "tesseract"

    def __init__(self, languages: str, binary: str | None = None) -> None:
        self._wanted = [lang for lang in languages.split("+") if lang]
        self._binary = binary or shutil.which("tesseract")

    @cached_property
    def installed_languages(self) -> frozenset[str]:
        """Language packs the installed Tesseract reports (empty when it is absent)."""
        if self._binary is None:
            return frozenset()
        listed = subprocess.run(
            [self._binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
        # The first line is a header ("List of available languages in ...").
        return frozenset(line.strip() for line in listed.stdout.splitlines()[1:] if line.strip())

    @property
    def languages(self) -> list[str]:
        """The configured languages that are installed, in the configured order."""
        return [lang for lang in self._wanted if lang in self.installed_languages]

    def unavailable_reason(self) -> str | None:
        if self._binary is None:
            return "Tesseract is not installed on this server (Debian: tesseract-ocr, tesseract-ocr-vie)"
        if not self.languages:
            return (
                f"none of the Tesseract languages {'+'.join(self._wanted)} is installed "
                f"(installed: {', '.join(sorted(self.installed_languages)) or 'none'})"
            )
        return None

    def recognise(self, image: Image.Image) -> list[TextLine]:
        reason = self.unavailable_reason()
        if reason is not None:
            raise EngineUnavailable(reason)
        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG")
        command = [str(self._binary), "stdin", "stdout", "-l", "+".join(self.languages), "--psm", "3", "tsv"]
        try:
            done = subprocess.run(
                command, input=png.getvalue(), capture_output=True, timeout=TESSERACT_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired as exc:
            limit = f"{TESSERACT_TIMEOUT_SECONDS:.0f}s"
            raise EngineFailure(f"Tesseract took longer than {limit} on one page") from exc
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise EngineFailure(f"Tesseract failed: {detail[0]}")
        return tesseract_lines(done.stdout.decode("utf-8", "replace"))


def tesseract_lines(tsv: str) -> list[TextLine]:
    """Lines from Tesseract's TSV output: its words grouped by (block, paragraph, line)."""
    words: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") == "5" and (row.get("text") or "").strip() and float(row.get("conf") or -1) >= 0:
            words[(row["block_num"], row["par_num"], row["line_num"])].append(row)
    lines = []
    for group in words.values():
        left = min(int(w["left"]) for w in group)
        top = min(int(w["top"]) for w in group)
        right = max(int(w["left"]) + int(w["width"]) for w in group)
        bottom = max(int(w["top"]) + int(w["height"]) for w in group)
        confidence = sum(float(w["conf"]) for w in group) / len(group) / 100.0
        lines.append(
            TextLine(
                text=" ".join(w["text"].strip() for w in group),
                box=[(left, top), (right, top), (right, bottom), (left, bottom)],
                confidence=round(min(max(confidence, 0.0), 1.0), 4),
            )
        )
    return lines


class Engines:
    """The engines of one server process, and the configured default."""

    def __init__(self, settings: Settings) -> None:
        self.default: EngineName = settings.ocr_engine
        self._engines: dict[str, OcrEngine] = {
            "rapidocr": RapidOcrEngine(),
            "tesseract": TesseractEngine(settings.ocr_tesseract_languages),
        }

    def get(self, name: str | None = None) -> OcrEngine:
        """The named engine (or the default), refusing one that cannot run here."""
        chosen = name or self.default
        engine = self._engines.get(chosen)
        if engine is None:
            expected = ", ".join(ENGINE_NAMES)
            raise EngineUnavailable(f"unknown OCR engine '{chosen}': expected one of {expected}")
        reason = engine.unavailable_reason()
        if reason is not None:
            raise EngineUnavailable(f"engine '{chosen}' is unavailable: {reason}")
        return engine

    def available(self) -> list[str]:
        """The names of the engines that can run here."""
        return [name for name, engine in self._engines.items() if engine.unavailable_reason() is None]
