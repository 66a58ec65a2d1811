"""OCR engines: RapidOCR (models ship in its wheel), Tesseract when installed, and `auto`.

An engine turns one page image into text lines with boxes and confidences. Engines are loaded
once per process and are safe to call from worker threads: the MCP server runs recognition off
the event loop so it keeps answering while a page is read.

`auto` (the default) chooses per page by language, as measured by `bench/ocr_quality.py`:
RapidOCR reads English receipts best (SROIE), but its recogniser has no Vietnamese letters and
drops every diacritic; on Vietnamese receipts RapidOCR's line detection with Tesseract's
Vietnamese model reading each detected line has the lowest character error rate.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
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
from mcp_servers.ocr.language import Language, detect_language
from mcp_servers.ocr.spacing import restore_spaces

log = structlog.get_logger(__name__)

EngineName = Literal["auto", "rapidocr", "tesseract"]
ENGINE_NAMES: tuple[EngineName, ...] = ("auto", "rapidocr", "tesseract")
TESSERACT_LANGUAGES: dict[Language, str] = {"en": "eng", "vi": "vie"}

TESSERACT_TIMEOUT_SECONDS = 120.0
# A space is about a third of a line's height; a gap of two heights parts a label from its value.
SEGMENT_GAP = 2.0
# Lines handed to Tesseract one under the other: each scaled to this height, this far apart.
SHEET_LINE_HEIGHT = 40
SHEET_GAP = 24
# Paper kept on each side of a line, in line heights.
STRIP_MARGIN = 0.3


@dataclass(frozen=True)
class Recognition:
    """What an engine read on one page: the lines, which recognisers read them, the language."""

    lines: list[TextLine]
    engine: str
    language: Language


class OcrEngine(Protocol):
    """Reads the text lines of one page image."""

    name: EngineName

    def unavailable_reason(self) -> str | None:
        """Why the engine cannot run here, or None when it can."""

    def recognise(self, image: Image.Image, language: Language | None = None) -> Recognition:
        """The lines of text on `image`, in the engine's order, with boxes in image pixels.
        `language` is the page's language when the caller knows it; detected otherwise."""


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

    def recognise(self, image: Image.Image, language: Language | None = None) -> Recognition:
        lines = self.read_lines(image)
        return Recognition(
            lines, self.name, language or detect_language(" ".join(line.text for line in lines))
        )

    def read_lines(self, image: Image.Image) -> list[TextLine]:
        """The lines RapidOCR detects and reads on `image`."""
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
    return TextLine(text=text.strip(), box=corners, confidence=_unit(float(score)))


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
        try:
            listed = subprocess.run(
                [self._binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("tesseract_not_runnable", binary=self._binary, error=str(exc))
            return frozenset()
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

    def reads(self, language: Language) -> bool:
        """Whether the model for `language` is installed."""
        return TESSERACT_LANGUAGES[language] in self.installed_languages

    def recognise(self, image: Image.Image, language: Language | None = None) -> Recognition:
        reason = self.unavailable_reason()
        if reason is not None:
            raise EngineUnavailable(reason)
        models = (
            [TESSERACT_LANGUAGES[language]]
            if language is not None and self.reads(language)
            else self.languages
        )
        lines = tesseract_lines(self._run(image, models, page_segmentation="3"))
        return Recognition(
            lines, self.name, language or detect_language(" ".join(line.text for line in lines))
        )

    def reread(self, image: Image.Image, lines: Sequence[TextLine], models: Sequence[str]) -> list[TextLine]:
        """`lines` found by another engine, each read again by the Tesseract `models` ("vie").

        The lines are cut out along their boxes, straightened, scaled to one height and stacked
        on one sheet, which one Tesseract run reads as a block of lines; each text found goes
        back to the line whose strip it sits on. A line Tesseract finds nothing on keeps the
        other engine's reading.
        """
        gray = np.asarray(image.convert("L"))
        strips = [_strip(gray, line.box) for line in lines]
        width = max((strip.shape[1] for strip in strips if strip is not None), default=0)
        if width == 0:
            return list(lines)
        pitch = SHEET_LINE_HEIGHT + SHEET_GAP
        sheet = np.full((len(strips) * pitch + SHEET_GAP, width + 2 * SHEET_GAP), 255, dtype=np.uint8)
        for index, strip in enumerate(strips):
            if strip is not None:
                top = SHEET_GAP + index * pitch
                sheet[top : top + SHEET_LINE_HEIGHT, SHEET_GAP : SHEET_GAP + strip.shape[1]] = strip
        found: dict[int, list[TextLine]] = defaultdict(list)
        tsv = self._run(Image.fromarray(sheet), models, page_segmentation="6")
        for read in tesseract_lines(tsv):
            index = int(((read.top + read.bottom) / 2 - SHEET_GAP / 2) // pitch)
            if 0 <= index < len(lines) and strips[index] is not None:
                found[index].append(read)
        reread = []
        for index, line in enumerate(lines):
            parts = sorted(found.get(index, []), key=lambda part: part.left)
            if not parts:
                reread.append(line)
                continue
            confidence = sum(part.confidence for part in parts) / len(parts)
            text = " ".join(part.text for part in parts)
            reread.append(TextLine(text=text, box=line.box, confidence=_unit(confidence)))
        return reread

    def _run(self, image: Image.Image, models: Sequence[str], *, page_segmentation: str) -> str:
        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG")
        command = [
            str(self._binary),
            "stdin",
            "stdout",
            "-l",
            "+".join(models),
            "--psm",
            page_segmentation,
            "tsv",
        ]
        try:
            done = subprocess.run(
                command, input=png.getvalue(), capture_output=True, timeout=TESSERACT_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired as exc:
            limit = f"{TESSERACT_TIMEOUT_SECONDS:.0f}s"
            raise EngineFailure(f"Tesseract took longer than {limit} on one page") from exc
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            log.warning("tesseract_failed", detail=detail[0])
            raise EngineFailure(f"Tesseract failed: {detail[0]}")
        return done.stdout.decode("utf-8", "replace")


def _strip(gray: np.ndarray, box: Sequence[Point]) -> np.ndarray | None:
    """The line inside `box`, straightened and scaled to `SHEET_LINE_HEIGHT`; None for a line
    set vertically or too small to read."""
    corners = np.array(box, dtype=np.float32)
    width = float(max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3])))
    height = float(max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1])))
    if height < 4 or width < 4 or height >= 1.5 * width:
        return None
    # A little of the paper beside the line: Tesseract reads the first and last letters better
    # with a margin than cut at the box's edge.
    along = (corners[1] - corners[0]) / max(1.0, float(np.linalg.norm(corners[1] - corners[0])))
    margin = STRIP_MARGIN * height * along
    corners = np.array([corners[0] - margin, corners[1] + margin, corners[2] + margin, corners[3] - margin])
    width += 2 * STRIP_MARGIN * height
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    straight = cv2.warpPerspective(
        gray,
        cv2.getPerspectiveTransform(corners, target),
        (int(width), int(height)),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    scaled_width = max(1, round(straight.shape[1] * SHEET_LINE_HEIGHT / straight.shape[0]))
    return np.asarray(cv2.resize(straight, (scaled_width, SHEET_LINE_HEIGHT), interpolation=cv2.INTER_CUBIC))


def tesseract_lines(tsv: str) -> list[TextLine]:
    """Lines from Tesseract's TSV output: its words grouped by (block, paragraph, line), and a
    line cut where a gap much wider than a space parts its words. Tesseract joins a label and
    its value across a receipt ("Tổng cộng ........ 321.330") into one line; the other engine
    and the field extractor see them as two boxes on one row."""
    words: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") == "5" and (row.get("text") or "").strip() and float(row.get("conf") or -1) >= 0:
            words[(row["block_num"], row["par_num"], row["line_num"])].append(row)
    lines = []
    for group in (segment for line in words.values() for segment in _segments(line)):
        left = min(int(w["left"]) for w in group)
        top = min(int(w["top"]) for w in group)
        right = max(int(w["left"]) + int(w["width"]) for w in group)
        bottom = max(int(w["top"]) + int(w["height"]) for w in group)
        confidence = sum(float(w["conf"]) for w in group) / len(group) / 100.0
        lines.append(
            TextLine(
                # Tesseract may emit decomposed marks; the rest of the server compares NFC text.
                text=unicodedata.normalize("NFC", " ".join(w["text"].strip() for w in group)),
                box=[(left, top), (right, top), (right, bottom), (left, bottom)],
                confidence=_unit(confidence),
            )
        )
    return lines


def _segments(words: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """The words of one Tesseract line, cut at every gap wider than `SEGMENT_GAP` line heights."""
    ordered = sorted(words, key=lambda word: int(word["left"]))
    height = max(int(word["height"]) for word in ordered)
    segments = [[ordered[0]]]
    for word in ordered[1:]:
        previous = segments[-1][-1]
        gap = int(word["left"]) - (int(previous["left"]) + int(previous["width"]))
        if gap > SEGMENT_GAP * height:
            segments.append([word])
        else:
            segments[-1].append(word)
    return segments


def _unit(score: float) -> float:
    return round(min(max(score, 0.0), 1.0), 4)


class AutoEngine:
    """RapidOCR for every page; a Vietnamese page's lines read again by Tesseract's Vietnamese
    model. Without that model a Vietnamese page keeps RapidOCR's reading, diacritics lost, and
    says so in its engine name ("rapidocr")."""

    name: EngineName = "auto"

    def __init__(self, rapidocr: RapidOcrEngine, tesseract: TesseractEngine) -> None:
        self._rapidocr = rapidocr
        self._tesseract = tesseract

    def unavailable_reason(self) -> str | None:
        return self._rapidocr.unavailable_reason()

    def recognise(self, image: Image.Image, language: Language | None = None) -> Recognition:
        first = self._rapidocr.recognise(image, language)
        if first.language != "vi" or not first.lines:
            return first
        if not self._tesseract.reads("vi"):
            log.warning("vietnamese_model_missing", engine="tesseract", model=TESSERACT_LANGUAGES["vi"])
            return first
        lines = self._tesseract.reread(image, first.lines, [TESSERACT_LANGUAGES["vi"]])
        return Recognition(lines, f"{self._rapidocr.name}+{self._tesseract.name}", "vi")


class Engines:
    """The engines of one server process, and the configured default."""

    def __init__(self, settings: Settings) -> None:
        self.default: EngineName = settings.ocr_engine
        rapidocr = RapidOcrEngine()
        tesseract = TesseractEngine(settings.ocr_tesseract_languages)
        self._engines: dict[str, OcrEngine] = {
            "auto": AutoEngine(rapidocr, tesseract),
            "rapidocr": rapidocr,
            "tesseract": tesseract,
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
