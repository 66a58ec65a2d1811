"""OCR quality on the SROIE receipts: character error rate, field accuracy and pages/s.

    python bench/ocr_quality.py [--data ../shared/data/sroie] [--engine rapidocr|tesseract] [--limit N] [-v]

Character error rate (CER): every annotated line box is paired with the recognised lines that
have the largest share (at least 30%) of their box inside it, joined left to right;
CER = (edit distance over all boxes + the characters of recognised lines that fall in no box)
/ annotated characters. Texts are compared in capitals with runs of whitespace collapsed (the
annotations are in capitals); a second CER ignores spaces altogether. Field accuracy is exact
match after normalisation: dates as ISO dates (the annotations' dd/mm/yy, dd-mm-yyyy, mm/dd/yyyy
... read with the server's date rules), totals as numbers equal to the cent (currency signs such
as "$8.20" dropped; an empty annotation counts as a miss), company names in capitals with
everything but letters and digits removed ("S.H.H. MOTOR (SUNGAI RENGIT) SDN. BHD." matches
"SHH MOTOR (SUNGAI RENGIT) SDN BHD").
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentmesh.settings import load_settings  # noqa: E402
from mcp_servers.ocr.amounts import find_amounts  # noqa: E402
from mcp_servers.ocr.dates import parse_date  # noqa: E402
from mcp_servers.ocr.document import Document, TextLine  # noqa: E402
from mcp_servers.ocr.engines import Engines  # noqa: E402
from mcp_servers.ocr.invoice import InvoiceFields, extract_invoice_fields  # noqa: E402
from mcp_servers.ocr.reading import DocumentReader  # noqa: E402
from mcp_servers.ocr.sources import InputLimits  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sroie"
# A recognised line belongs to the annotated box holding the largest share of its area, if that
# share is at least this much (boxes of skewed photos overlap their annotations only in part).
BOX_MATCH = 0.3


@dataclass
class Tally:
    errors: int = 0
    characters: int = 0
    errors_no_space: int = 0
    characters_no_space: int = 0
    fields: dict[str, list[bool]] = field(default_factory=lambda: {"date": [], "total": [], "company": []})
    misses: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnnotatedLine:
    left: float
    top: float
    right: float
    bottom: float
    text: str


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions and substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def annotated_lines(path: Path) -> list[AnnotatedLine]:
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = raw.split(",", 8)
        if len(parts) < 9:
            continue
        xs, ys = [float(v) for v in parts[0:8:2]], [float(v) for v in parts[1:8:2]]
        lines.append(AnnotatedLine(min(xs), min(ys), max(xs), max(ys), parts[8]))
    return lines


def comparable(text: str) -> str:
    return re.sub(r"\s+", " ", text.upper()).strip()


def count_errors(tally: Tally, truth: list[AnnotatedLine], read: list[TextLine]) -> None:
    assigned: dict[int, list[TextLine]] = {index: [] for index in range(len(truth))}
    stray: list[str] = []
    for line in read:
        area = max(1.0, (line.right - line.left) * (line.bottom - line.top))
        best, best_share = None, 0.0
        for index, box in enumerate(truth):
            width = min(line.right, box.right) - max(line.left, box.left)
            height = min(line.bottom, box.bottom) - max(line.top, box.top)
            share = max(0.0, width) * max(0.0, height) / area
            if share > best_share:
                best, best_share = index, share
        if best is not None and best_share >= BOX_MATCH:
            assigned[best].append(line)
        else:
            stray.append(comparable(line.text))
    for index, box in enumerate(truth):
        expected = comparable(box.text)
        got = comparable(" ".join(line.text for line in sorted(assigned[index], key=lambda item: item.left)))
        tally.errors += edit_distance(expected, got)
        tally.characters += len(expected)
        tally.errors_no_space += edit_distance(expected.replace(" ", ""), got.replace(" ", ""))
        tally.characters_no_space += len(expected.replace(" ", ""))
    for text in stray:
        tally.errors += len(text)
        tally.errors_no_space += len(text.replace(" ", ""))


def company_key(text: str | None) -> str:
    return re.sub(r"[^0-9A-Z]", "", (text or "").upper())


def score_fields(tally: Tally, name: str, key: dict[str, str], fields: InvoiceFields) -> None:
    expected_date = parse_date(key.get("date", ""))
    checks = {
        "date": (expected_date.isoformat() if expected_date else None, fields.date.value),
        "total": (_number(key.get("total")), fields.total.value),
        "company": (company_key(key.get("company")), company_key(_text(fields.company.value))),
    }
    for field_name, (expected, got) in checks.items():
        if isinstance(expected, float):
            ok = isinstance(got, float) and abs(expected - got) < 0.005
        else:
            ok = expected is not None and expected == got
        tally.fields[field_name].append(ok)
        if not ok:
            tally.misses.append(f"{name} {field_name}: expected {expected!r}, got {got!r}")


def _number(text: str | None) -> float | None:
    amounts = find_amounts(text or "")  # "$8.20", "RM 9.00", "1,250.00"
    return amounts[-1].value if amounts else None


def _text(value: str | float | None) -> str | None:
    return value if isinstance(value, str) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--engine", choices=("rapidocr", "tesseract"), default="rapidocr")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every field miss")
    args = parser.parse_args()

    settings = load_settings()
    reader = DocumentReader(Engines(settings), InputLimits.from_settings(settings))
    images = sorted((args.data / "img").glob("*.jpg"))[: args.limit]
    if not images:
        print(f"no receipts under {args.data / 'img'}", file=sys.stderr)
        return 1
    # Load the engine before timing, as a running server would have.
    reader.read(images[0].read_bytes(), engine=args.engine)

    tally = Tally()
    reading_seconds = extraction_seconds = 0.0
    for image in images:
        started = time.perf_counter()
        document: Document = reader.read(image.read_bytes(), engine=args.engine)
        read_at = time.perf_counter()
        fields = extract_invoice_fields(document)
        reading_seconds += read_at - started
        extraction_seconds += time.perf_counter() - read_at
        count_errors(tally, annotated_lines(args.data / "box" / f"{image.stem}.csv"), document.pages[0].lines)
        key = json.loads((args.data / "key" / f"{image.stem}.json").read_text(encoding="utf-8"))
        score_fields(tally, image.stem, key, fields)

    count = len(images)
    print(f"SROIE receipts: {count}, engine: {args.engine}")
    print(f"CER (capitals, spaces collapsed): {tally.errors / tally.characters:.2%}")
    print(f"CER ignoring spaces:              {tally.errors_no_space / tally.characters_no_space:.2%}")
    for field_name, results in tally.fields.items():
        print(f"{field_name:<8} exact match: {sum(results) / count:.0%} ({sum(results)}/{count})")
    print(f"pages/s (reading): {count / reading_seconds:.2f}")
    print(f"field extraction: {extraction_seconds / count * 1000:.1f} ms/page")
    if args.verbose:
        print("\n".join(tally.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
