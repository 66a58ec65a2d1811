"""OCR quality on English (SROIE) and Vietnamese receipts: character error rate, diacritics, fields.

    python bench/ocr_quality.py [--data ../shared/data/sroie] [--vietnamese DIR] [--engines ...] [-v]

Two sets, each read by several engine configurations in the same run:
- **SROIE** (50 Malaysian receipts in English and Malay, `--data`): CER against the annotated
  line boxes, and the date, total and company against the keys.
- **Vietnamese receipts** (36 drawn by `bench/vietnamese_receipts.py` with real fonts, clean,
  skewed and photographed; or `--vietnamese DIR` holding NNN.jpg and truth.json): CER, the
  share of accented letters read with their marks, and vendor, date and total.

Engine configurations: `auto` (the server's default and the configuration chosen here), `rapidocr`,
`tesseract:<models>` (a whole page through Tesseract with those models), and
`rapidocr+tesseract:<models>` (RapidOCR's line boxes, each line read by Tesseract). `auto` runs
RapidOCR and, on a page it finds Vietnamese, `rapidocr+tesseract:vie`; the run prints how often it
told each set's language right.

Character error rate (CER): every annotated line box is paired with the recognised lines that
have the largest share (at least 30%) of their box inside it, joined left to right;
CER = (edit distance over all boxes + the characters of recognised lines that fall in no box)
/ annotated characters, with runs of whitespace collapsed; a second CER ignores spaces. SROIE
compares capitals (its annotations are in capitals); the Vietnamese set compares NFC text in lower
case, so a lost or wrong diacritic is an error. Diacritics kept: of the annotated letters that
carry a Vietnamese mark (á, ệ, ư, đ, ...), the share found unchanged in the text read for their box
(aligned with difflib). Field accuracy is exact match after normalisation: dates as ISO dates (the
SROIE keys' dd/mm/yy, dd-mm-yyyy, mm/dd/yyyy ... read with the server's date rules), totals as
numbers equal to the cent (an empty key counts as a miss), company and vendor names as their
letters and digits in capitals (diacritics kept for Vietnamese).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentmesh.settings import load_settings  # noqa: E402
from bench import vietnamese_receipts  # noqa: E402
from mcp_servers.ocr import layout  # noqa: E402
from mcp_servers.ocr.amounts import find_amounts  # noqa: E402
from mcp_servers.ocr.dates import parse_date  # noqa: E402
from mcp_servers.ocr.document import Document, Page, TextLine  # noqa: E402
from mcp_servers.ocr.engines import AutoEngine, RapidOcrEngine, Recognition, TesseractEngine  # noqa: E402
from mcp_servers.ocr.invoice import InvoiceFields, extract_invoice_fields  # noqa: E402
from mcp_servers.ocr.language import Language  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sroie"
VIETNAMESE_TRUTH = ROOT / "bench" / "data" / "vietnamese_receipts.json"
SROIE_ENGINES = "auto,tesseract:eng"
VIETNAMESE_ENGINES = "auto,rapidocr,tesseract:vie"
# A recognised line belongs to the annotated box holding the largest share of its area, if that
# share is at least this much (boxes of skewed photos overlap their annotations only in part).
BOX_MATCH = 0.3
# Letters with a Vietnamese mark: ă â đ ê ô ơ ư and every vowel with a tone (lower case).
MARKED = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]")

Read = Callable[[Image.Image], Recognition]


@dataclass(frozen=True)
class AnnotatedLine:
    left: float
    top: float
    right: float
    bottom: float
    text: str


@dataclass(frozen=True)
class Sample:
    """One image with its annotated lines and expected fields (None where there is no key)."""

    name: str
    image: Path
    lines: list[AnnotatedLine]
    company: str | None
    date: str | None
    total: float | None
    group: str = ""


@dataclass
class Tally:
    errors: int = 0
    characters: int = 0
    errors_no_space: int = 0
    characters_no_space: int = 0
    marked: int = 0
    marked_kept: int = 0
    fields: dict[str, list[bool]] = field(default_factory=lambda: {"date": [], "total": [], "company": []})
    by_group: dict[str, list[int]] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)


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


def capitals(text: str) -> str:
    """SROIE's comparison: capitals, whitespace collapsed."""
    return re.sub(r"\s+", " ", text.upper()).strip()


def vietnamese(text: str) -> str:
    """The Vietnamese set's comparison: NFC, lower case, whitespace collapsed; marks count."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text).lower()).strip()


def count_errors(
    tally: Tally,
    truth: list[AnnotatedLine],
    read: list[TextLine],
    comparable: Callable[[str], str],
    group: str,
) -> None:
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
    errors = characters = 0
    for index, box in enumerate(truth):
        expected = comparable(box.text)
        got = comparable(" ".join(line.text for line in sorted(assigned[index], key=lambda item: item.left)))
        errors += edit_distance(expected, got)
        characters += len(expected)
        tally.errors_no_space += edit_distance(expected.replace(" ", ""), got.replace(" ", ""))
        tally.characters_no_space += len(expected.replace(" ", ""))
        _count_marks(tally, expected, got)
    for text in stray:
        errors += len(text)
        tally.errors_no_space += len(text.replace(" ", ""))
    tally.errors += errors
    tally.characters += characters
    totals = tally.by_group.setdefault(group, [0, 0])
    totals[0] += errors
    totals[1] += characters


def _count_marks(tally: Tally, expected: str, got: str) -> None:
    marked = [match.start() for match in MARKED.finditer(expected)]
    if not marked:
        return
    kept: set[int] = set()
    for start, _, size in difflib.SequenceMatcher(None, expected, got, autojunk=False).get_matching_blocks():
        kept.update(range(start, start + size))
    tally.marked += len(marked)
    tally.marked_kept += sum(position in kept for position in marked)


def name_key(text: str | None) -> str:
    """Letters and digits in capitals; Vietnamese marks are kept ("CÀ PHÊ" is not "CA PHE")."""
    return "".join(char for char in unicodedata.normalize("NFC", text or "").upper() if char.isalnum())


def score_fields(tally: Tally, sample: Sample, fields: InvoiceFields) -> None:
    checks = {
        "date": (sample.date, fields.date.value),
        "total": (sample.total, fields.total.value),
        "company": (name_key(sample.company) or None, name_key(_text(fields.company.value))),
    }
    for field_name, (expected, got) in checks.items():
        if isinstance(expected, float):
            ok = isinstance(got, float) and abs(expected - got) < 0.005
        else:
            ok = expected is not None and expected == got
        tally.fields[field_name].append(ok)
        if not ok:
            tally.misses.append(f"{sample.name} {field_name}: expected {expected!r}, got {got!r}")


def _text(value: str | float | None) -> str | None:
    return value if isinstance(value, str) else None


# --- the sets -------------------------------------------------------------------------------


def sroie_samples(folder: Path, limit: int | None) -> list[Sample]:
    samples = []
    for image in sorted((folder / "img").glob("*.jpg"))[:limit]:
        key = json.loads((folder / "key" / f"{image.stem}.json").read_text(encoding="utf-8"))
        date = parse_date(key.get("date", ""))
        amounts = find_amounts(key.get("total") or "")  # "$8.20", "RM 9.00", "1,250.00"
        samples.append(
            Sample(
                name=image.stem,
                image=image,
                lines=_sroie_lines(folder / "box" / f"{image.stem}.csv"),
                company=key.get("company"),
                date=date.isoformat() if date else None,
                total=amounts[-1].value if amounts else None,
            )
        )
    return samples


def _sroie_lines(path: Path) -> list[AnnotatedLine]:
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = raw.split(",", 8)
        if len(parts) < 9:
            continue
        xs, ys = [float(v) for v in parts[0:8:2]], [float(v) for v in parts[1:8:2]]
        lines.append(AnnotatedLine(min(xs), min(ys), max(xs), max(ys), parts[8]))
    return lines


def vietnamese_samples(folder: Path, limit: int | None) -> list[Sample]:
    records = json.loads((folder / "truth.json").read_text(encoding="utf-8"))[:limit]
    return [
        Sample(
            name=f"vi-{record['name']}",
            image=folder / f"{record['name']}.jpg",
            lines=[_annotated(line["box"], line["text"]) for line in record["lines"]],
            company=record["vendor"],
            date=record["date"],
            total=float(record["total"]),
            group=record["look"],
        )
        for record in records
    ]


def _annotated(box: list[int], text: str) -> AnnotatedLine:
    left, top, right, bottom = box
    return AnnotatedLine(left, top, right, bottom, text)


def drawn_vietnamese_set(folder: Path) -> str:
    """Draw the Vietnamese receipts into `folder`; a warning when they differ from the committed truth."""
    receipts = vietnamese_receipts.generate(folder)
    (folder / "truth.json").write_text(
        json.dumps(list(vietnamese_receipts.truth_records(receipts)), ensure_ascii=False), encoding="utf-8"
    )
    digest = vietnamese_receipts.truth_digest(receipts)
    committed = json.loads(VIETNAMESE_TRUTH.read_text(encoding="utf-8"))["digest"]
    if digest != committed:
        return f"WARNING: the drawn set (digest {digest}) differs from the committed one ({committed})"
    return f"digest {digest}, as committed in {VIETNAMESE_TRUTH.relative_to(ROOT)}"


# --- engines --------------------------------------------------------------------------------


def engine_reader(name: str, rapidocr: RapidOcrEngine, auto: AutoEngine) -> Read:
    """The configuration `name` as a function from a page image to what it read."""
    if name == "auto":
        return auto.recognise
    if name == "rapidocr":
        return rapidocr.recognise
    kind, _, models = name.partition(":")
    if not models:
        raise SystemExit(
            f"unknown engine {name!r}: auto, rapidocr, tesseract:<models>, rapidocr+tesseract:<models>"
        )
    tesseract = TesseractEngine(models)
    if tesseract.unavailable_reason():
        raise SystemExit(f"{name}: {tesseract.unavailable_reason()}")
    if kind == "tesseract":
        return tesseract.recognise
    if kind == "rapidocr+tesseract":

        def reread(image: Image.Image) -> Recognition:
            first = rapidocr.recognise(image)
            return Recognition(tesseract.reread(image, first.lines, models.split("+")), name, first.language)

        return reread
    raise SystemExit(f"unknown engine {name!r}")


def measure(samples: list[Sample], read: Read, comparable: Callable[[str], str]) -> Tally:
    tally = Tally()
    for sample in samples:
        image = Image.open(sample.image).convert("RGB")
        started = time.perf_counter()
        recognition = read(image)
        tally.seconds += time.perf_counter() - started
        lines = layout.in_reading_order(recognition.lines)
        count_errors(tally, sample.lines, lines, comparable, sample.group)
        tally.languages[recognition.language] = tally.languages.get(recognition.language, 0) + 1
        score_fields(tally, sample, extract_invoice_fields(_document(image, recognition, lines)))
    return tally


def _document(image: Image.Image, recognition: Recognition, lines: list[TextLine]) -> Document:
    page = Page(
        number=1,
        source="ocr",
        engine=recognition.engine,
        language=recognition.language,
        width=image.width,
        height=image.height,
        unit="px",
        text=layout.page_text(lines),
        lines=lines,
    )
    return Document.of("jpeg", 1, [page])


# --- report ---------------------------------------------------------------------------------


def report(
    title: str, results: dict[str, Tally], count: int, language: Language, company: str
) -> Iterator[str]:
    if not results:
        return
    yield f"\n{title}"
    groups = sorted({group for tally in results.values() for group in tally.by_group if group})
    header = f"{'engine':<28} {'CER':>7} {'no sp.':>7}"
    header += f" {'marks':>6}" if language == "vi" else ""
    header += "".join(f" {group:>7}" for group in groups)
    header += f" {'date':>6} {'total':>6} {company:>8} {'s/page':>7} {'told ' + language:>8}"
    yield header
    for name, tally in results.items():
        row = f"{name:<28} {tally.errors / tally.characters:>7.2%} "
        row += f"{tally.errors_no_space / tally.characters_no_space:>7.2%}"
        if language == "vi":
            row += f" {tally.marked_kept / max(1, tally.marked):>6.1%}"
        row += "".join(f" {tally.by_group[group][0] / tally.by_group[group][1]:>7.2%}" for group in groups)
        for results_of_field in tally.fields.values():
            row += f" {sum(results_of_field) / count:>6.0%}"
        row += f" {tally.seconds / count:>7.2f} {tally.languages.get(language, 0):>5}/{count}"
        yield row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the SROIE folder")
    parser.add_argument("--vietnamese", type=Path, default=None, help="NNN.jpg + truth.json (default: drawn)")
    parser.add_argument("--sroie-engines", default=SROIE_ENGINES, help="comma-separated; '' skips SROIE")
    parser.add_argument("--vietnamese-engines", default=VIETNAMESE_ENGINES, help="comma-separated; '' skips")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts of each set")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every field miss")
    args = parser.parse_args()

    settings = load_settings()
    rapidocr = RapidOcrEngine()
    auto = AutoEngine(rapidocr, TesseractEngine(settings.ocr_tesseract_languages))
    sroie = sroie_samples(args.data, args.limit)
    if not sroie:
        print(f"no receipts under {args.data / 'img'}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="vietnamese-receipts-") as drawn:
        folder = args.vietnamese or Path(drawn)
        provenance = f"from {folder}" if args.vietnamese else drawn_vietnamese_set(folder)
        viet = vietnamese_samples(folder, args.limit)
        # Load the models before timing, as a running server would have.
        auto.recognise(Image.open(viet[0].image).convert("RGB"))

        results: dict[str, dict[str, Tally]] = {"sroie": {}, "vi": {}}
        for key, samples, names, comparable in (
            ("sroie", sroie, args.sroie_engines, capitals),
            ("vi", viet, args.vietnamese_engines, vietnamese),
        ):
            for name in filter(None, names.split(",")):  # an empty list skips the set
                results[key][name] = measure(samples, engine_reader(name, rapidocr, auto), comparable)

    looks = ", ".join(f"{sum(s.group == g for s in viet)} {g}" for g in dict.fromkeys(s.group for s in viet))
    lines = [
        *report(
            f"SROIE, {len(sroie)} receipts (English, Malay)", results["sroie"], len(sroie), "en", "company"
        ),
        *report(
            f"Vietnamese receipts, {len(viet)} ({looks}; {provenance})",
            results["vi"],
            len(viet),
            "vi",
            "vendor",
        ),
        "\nCER: capitals (SROIE) or NFC lower case (Vietnamese), whitespace collapsed; 'no sp.' ignores"
        " spaces; marks: accented letters read with their marks; 'told': pages whose language was right.",
        "Chosen configuration: auto = RapidOCR on English pages; RapidOCR's lines read by Tesseract 'vie' on"
        " Vietnamese pages (Engines(settings).get() in the server).",
    ]
    print("\n".join(lines))
    if args.verbose:
        for key in ("sroie", "vi"):
            for name, tally in results[key].items():
                print(f"\nfield misses, {key}, {name}:")
                print("\n".join(tally.misses) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
