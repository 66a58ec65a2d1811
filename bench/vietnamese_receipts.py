"""A Vietnamese receipt set for measuring OCR: receipts drawn with real fonts, with their truth.

    python bench/vietnamese_receipts.py OUT_DIR [--count 36] [--seed 2024]

Each receipt is a shop's bill as Vietnamese tills and small e-invoice printers lay it out: shop
name, address (TP. Hồ Chí Minh, Hà Nội, Đà Nẵng, ...), tax code, bill number, date dd/mm/yyyy,
items with quantities and prices, a subtotal ("Tạm tính", "Cộng tiền hàng"), discount and VAT
rows, then the grand total ("Tổng cộng", "Thành tiền", "Tổng thanh toán", "TOTAL"), cash and
change. Amounts are printed as Vietnamese shops print them (321.330, 321.330 ₫, 321.330đ,
1,250,000 VND). Fonts are the system's DejaVu, Liberation and Noto faces (Debian packages
fonts-dejavu-core, fonts-liberation2, fonts-noto-core), all of which carry Vietnamese.

Three looks, in turn: a clean scan; a skewed scan (rotation up to 2 degrees, noise, JPEG 70); a
phone photo (perspective, uneven light, blur, sensor noise, JPEG 60, the table around the paper).

The truth of each receipt is every printed text with its box in the final image (label and
value printed apart are two boxes, as in SROIE) and the fields vendor, date (ISO) and total (a
number). The same seed draws the same receipts: `truth_digest` hashes texts and fields (not the
boxes, which move by a pixel between FreeType versions), and `bench/data/vietnamese_receipts.json`
(written with `--record`) holds the committed set's truth and digest, which `bench/ocr_quality.py`
checks the set it draws against.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation2"),
    Path("/usr/share/fonts/truetype/noto"),
)
# (regular, bold) faces: sans, condensed and mono as tills print, serif as invoices do. (DejaVu Sans
# Mono is left out: it lacks the precomposed Vietnamese letters and misplaces the stacked marks.)
FONT_FACES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
    ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    ("LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf"),
    ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf"),
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("NotoSerif-Regular.ttf", "NotoSerif-Bold.ttf"),
)
LOOKS = ("clean", "skewed", "photo")

SHOPS = (
    ("CỬA HÀNG TIỆN LỢI AN KHANG", "store"),
    ("CÔNG TY TNHH THƯƠNG MẠI PHÚ THỊNH", "store"),
    ("SIÊU THỊ MINI ĐÔNG Á", "store"),
    ("TẠP HÓA CÔ BA", "store"),
    ("NHÀ THUỐC MINH CHÂU", "pharmacy"),
    ("NHÀ SÁCH PHƯƠNG NAM", "books"),
    ("QUÁN PHỞ HƯƠNG BẮC", "food"),
    ("NHÀ HÀNG HẢI SẢN BIỂN ĐÔNG", "food"),
    ("CƠM TẤM SÀI GÒN XƯA", "food"),
    ("BÚN CHẢ HÀNG QUẠT", "food"),
    ("CÀ PHÊ SƯƠNG MAI", "cafe"),
    ("TRÀ SỮA ĐỒNG XANH", "cafe"),
    ("TIỆM BÁNH NGỌC HƯƠNG", "cafe"),
    ("CÔNG TY CỔ PHẦN DỊCH VỤ ÁNH DƯƠNG", "store"),
)
ITEMS = {
    "store": (
        ("Nước suối Lavie 500ml", 6000), ("Sữa tươi Vinamilk 1L", 32000), ("Mì Hảo Hảo tôm chua cay", 4500),
        ("Bánh quy bơ Danisa", 89000), ("Dầu ăn Tường An 1L", 52000), ("Nước mắm Nam Ngư", 38500),
        ("Gạo ST25 túi 5kg", 185000), ("Trứng gà ta (hộp 10)", 42000), ("Kem đánh răng P/S", 27500),
        ("Bột giặt Ômô 800g", 46000), ("Khăn giấy Pulppy", 18000), ("Cà phê G7 hộp 21 gói", 58000),
    ),
    "pharmacy": (
        ("Paracetamol 500mg (vỉ)", 15000), ("Vitamin C sủi", 45000), ("Khẩu trang y tế (hộp)", 35000),
        ("Nước muối sinh lý", 8000), ("Siro ho Bảo Thanh", 52000), ("Băng cá nhân Urgo", 21000),
        ("Dầu gió Trường Sơn", 18500), ("Men tiêu hóa Biofidin", 96000),
    ),
    "books": (
        ("Truyện Kiều - Nguyễn Du", 86000), ("Dế Mèn phiêu lưu ký", 45000), ("Vở kẻ ngang 200 trang", 16000),
        ("Bút bi Thiên Long", 5000), ("Từ điển Anh - Việt", 128000), ("Sổ tay bìa da", 64000),
        ("Bộ màu sáp 24 màu", 39000),
    ),
    "food": (
        ("Phở bò tái chín", 55000), ("Phở gà đặc biệt", 60000), ("Bún chả Hà Nội", 50000),
        ("Cơm tấm sườn bì chả", 45000), ("Chả giò (đĩa)", 40000), ("Gỏi cuốn tôm thịt", 35000),
        ("Lẩu hải sản", 320000), ("Mực nướng sa tế", 145000), ("Rau muống xào tỏi", 45000),
        ("Nước ngọt Pepsi", 15000), ("Bia Sài Gòn", 22000), ("Trà đá", 5000),
    ),
    "cafe": (
        ("Cà phê sữa đá", 29000), ("Cà phê đen nóng", 25000), ("Bạc xỉu", 32000), ("Trà đào cam sả", 45000),
        ("Trà sữa trân châu đường đen", 49000), ("Sinh tố bơ", 42000), ("Bánh mì thịt nướng", 25000),
        ("Bánh bông lan trứng muối", 38000), ("Nước ép dưa hấu", 35000),
    ),
}  # fmt: skip
STREETS = (
    "Nguyễn Huệ", "Lê Lợi", "Hai Bà Trưng", "Trần Hưng Đạo", "Điện Biên Phủ", "Nguyễn Thị Minh Khai",
    "Lý Thường Kiệt", "Phan Đình Phùng", "Hoàng Diệu", "Bạch Đằng", "Nguyễn Văn Linh", "Cách Mạng Tháng Tám",
)  # fmt: skip
PLACES = (
    ("Phường Bến Nghé", "Quận 1", "TP. Hồ Chí Minh"),
    ("Phường 6", "Quận 3", "TP. Hồ Chí Minh"),
    ("Phường Tân Định", "Quận 1", "TP. Hồ Chí Minh"),
    ("Phường Hàng Bài", "Quận Hoàn Kiếm", "Hà Nội"),
    ("Phường Dịch Vọng", "Quận Cầu Giấy", "Hà Nội"),
    ("Phường Thạch Thang", "Quận Hải Châu", "Đà Nẵng"),
    ("Phường An Hải Bắc", "Quận Sơn Trà", "Đà Nẵng"),
    ("Phường Xuân Khánh", "Quận Ninh Kiều", "Cần Thơ"),
)
CASHIERS = (
    "Nguyễn Thị Lan",
    "Trần Văn Hùng",
    "Lê Thị Thu Hà",
    "Phạm Minh Đức",
    "Võ Ngọc Ánh",
    "Đặng Quốc Bảo",
)
TITLES = ("HÓA ĐƠN BÁN HÀNG", "PHIẾU THANH TOÁN", "HÓA ĐƠN BÁN LẺ", "PHIẾU TÍNH TIỀN")
SUBTOTAL_LABELS = ("Tạm tính", "Cộng tiền hàng", "Tổng tiền hàng")
TOTAL_LABELS = ("Tổng cộng", "TỔNG CỘNG", "Thành tiền", "Tổng thanh toán", "TỔNG THANH TOÁN", "TOTAL")
FOOTERS = ("Cảm ơn quý khách!", "Hẹn gặp lại quý khách!", "Xin cảm ơn và hẹn gặp lại!")
# How a shop prints its money: (number style, suffix).
MONEY_STYLES = (("dot", ""), ("dot", " ₫"), ("dot", "đ"), ("dot", " VNĐ"), ("comma", " VND"), ("comma", ""))


@dataclass(frozen=True)
class TruthLine:
    """One printed text and its box (left, top, right, bottom) in the final image."""

    text: str
    box: tuple[int, int, int, int]


@dataclass
class Receipt:
    """One drawn receipt: its file name, look, font, truth lines and fields."""

    name: str
    look: str
    font: str
    lines: list[TruthLine] = field(default_factory=list)
    vendor: str = ""
    date: str = ""
    total: float = 0.0


def money(amount: int, style: tuple[str, str]) -> str:
    grouped = f"{amount:,}"
    return (grouped.replace(",", ".") if style[0] == "dot" else grouped) + style[1]


def generate(out_dir: Path, count: int = 36, seed: int = 2024) -> list[Receipt]:
    """Draw `count` receipts into `out_dir` as NNN.jpg and return their truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    faces = _fonts()
    rng = random.Random(seed)
    receipts = []
    for index in range(count):
        look = LOOKS[index % len(LOOKS)]
        regular, bold = faces[index % len(faces)]
        name = f"{index:03d}"
        page, receipt = _draw(rng, name, look, regular, bold)
        image, receipt.lines = _age(rng, page, receipt.lines, look)
        image.save(
            out_dir / f"{name}.jpg", format="JPEG", quality={"clean": 92, "skewed": 70, "photo": 60}[look]
        )
        receipts.append(receipt)
    return receipts


def truth_digest(receipts: list[Receipt]) -> str:
    """A hash of every receipt's texts and fields: equal when the same set was drawn."""
    digest = hashlib.sha256()
    for receipt in receipts:
        record = [
            receipt.name,
            receipt.vendor,
            receipt.date,
            receipt.total,
            [line.text for line in receipt.lines],
        ]
        digest.update(json.dumps(record, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def _fonts() -> list[tuple[Path, Path]]:
    found = []
    for regular, bold in FONT_FACES:
        paths = [
            next((folder / face for folder in FONT_DIRS if (folder / face).exists()), None)
            for face in (regular, bold)
        ]
        if paths[0] is None or paths[1] is None:
            missing = regular if paths[0] is None else bold
            raise SystemExit(
                f"font {missing} not found: install fonts-dejavu-core fonts-liberation2 fonts-noto-core"
            )
        found.append((paths[0], paths[1]))
    return found


class _Printer:
    """Lays text out down a receipt page and records each text's box."""

    def __init__(self, width: int, size: int, regular: Path, bold: Path) -> None:
        self.width = width
        self.size = size
        self.margin = int(size * 1.3)
        self.y = int(size * 1.5)
        self.regular = ImageFont.truetype(str(regular), size)
        self.bold = ImageFont.truetype(str(bold), size)
        self.big = ImageFont.truetype(str(bold), int(size * 1.25))
        self.texts: list[tuple[str, tuple[int, int], ImageFont.FreeTypeFont, str]] = []

    def row(self, left: str | None = None, right: str | None = None, *, center: str | None = None,
            font: ImageFont.FreeTypeFont | None = None, gap: float = 1.55) -> None:  # fmt: skip
        face = font or self.regular
        if center is not None:
            self.texts.append((center, (self.width // 2, self.y), face, "ma"))
        if left is not None:
            self.texts.append((left, (self.margin, self.y), face, "la"))
        if right is not None:
            self.texts.append((right, (self.width - self.margin, self.y), face, "ra"))
        self.y += int(face.size * gap)

    def rule(self) -> None:
        self.texts.append(("-" * 200, (self.margin, self.y - int(self.size * 0.2)), self.regular, "rule"))
        self.y += int(self.size * 0.9)

    def fits(self, text: str, face: ImageFont.FreeTypeFont, room: int) -> bool:
        return face.getlength(text) <= room

    def render(self) -> tuple[Image.Image, list[TruthLine]]:
        height = self.y + int(self.size * 1.5)
        page = Image.new("L", (self.width, height), 255)
        draw = ImageDraw.Draw(page)
        lines = []
        for text, (x, y), face, anchor in self.texts:
            if anchor == "rule":
                draw.line([(x, y), (self.width - self.margin, y)], fill=40, width=1)
                continue
            draw.text((x, y), text, fill=0, font=face, anchor=anchor)
            left, top, right, bottom = draw.textbbox((x, y), text, font=face, anchor=anchor)
            lines.append(TruthLine(text, (int(left), int(top), math.ceil(right), math.ceil(bottom))))
        return page, lines


def _draw(rng: random.Random, name: str, look: str, regular: Path, bold: Path) -> tuple[Image.Image, Receipt]:
    shop, kind = rng.choice(SHOPS)
    style = rng.choice(MONEY_STYLES)
    size = rng.randint(20, 26)
    width = rng.randint(27, 31) * size
    printer = _Printer(width, size, regular, bold)
    receipt = Receipt(name=name, look=look, font=regular.stem, vendor=shop)

    ward, district, city = rng.choice(PLACES)
    printer.row(
        center=shop, font=printer.big if printer.fits(shop, printer.big, width - 20) else printer.bold
    )
    printer.row(center=f"{rng.randint(1, 350)} {rng.choice(STREETS)}, {ward}")
    printer.row(center=f"{district}, {city}")
    printer.row(
        center=f"ĐT: 0{rng.choice((28, 24, 236, 292))} {rng.randint(1000, 9999)} {rng.randint(100, 999)}"
    )
    if rng.random() < 0.6:
        printer.row(center=f"MST: {rng.randint(100000000, 999999999):010d}")
    printer.rule()
    printer.row(center=rng.choice(TITLES), font=printer.bold)
    day = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 900))
    receipt.date = day.isoformat()
    clock = f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"
    if rng.random() < 0.5:
        printer.row(
            f"Số HĐ: {rng.randint(1, 99999):06d}",
            f"Bàn: {rng.randint(1, 30)}" if kind in ("food", "cafe") else None,
        )
        printer.row(f"Ngày: {day:%d/%m/%Y} {clock}")
    else:
        printer.row(f"Ngày: {day:%d/%m/%Y}", f"Giờ: {clock}")
        printer.row(f"Số: HD{rng.randint(1, 99999):05d}")
    printer.row(f"Thu ngân: {rng.choice(CASHIERS)}")
    printer.rule()
    printer.row("Tên hàng", "Thành tiền", font=printer.bold)

    subtotal = 0
    for item, price in rng.sample(ITEMS[kind], rng.randint(2, 6)):
        quantity = rng.choice((1, 1, 1, 2, 2, 3))
        amount = quantity * price
        subtotal += amount
        printer.row(item)
        printer.row(f"  {quantity} x {money(price, style)}", money(amount, style))
    printer.rule()

    printer.row(rng.choice(SUBTOTAL_LABELS), money(subtotal, style))
    total = subtotal
    if rng.random() < 0.4:
        discount = max(1000, subtotal * rng.choice((5, 10)) // 100 // 1000 * 1000)
        printer.row("Giảm giá", f"-{money(discount, style)}")
        total -= discount
    if rng.random() < 0.6:
        rate = rng.choice((8, 10))
        vat = total * rate // 100
        printer.row(rng.choice((f"VAT {rate}%", f"Thuế GTGT ({rate}%)")), money(vat, style))
        total += vat
    printer.row(rng.choice(TOTAL_LABELS), money(total, style), font=printer.bold)
    receipt.total = float(total)
    paid = math.ceil(total / 50000) * 50000 + rng.choice((0, 0, 50000, 100000))
    printer.row("Tiền khách đưa", money(paid, style))
    printer.row(rng.choice(("Tiền thừa", "Tiền trả lại")), money(paid - total, style))
    printer.rule()
    printer.row(center=rng.choice(FOOTERS))
    page, receipt.lines = printer.render()
    return page, receipt


def _age(
    rng: random.Random, page: Image.Image, lines: list[TruthLine], look: str
) -> tuple[Image.Image, list[TruthLine]]:
    """The receipt as a scanner or a phone sees it, with the truth boxes moved along."""
    array = np.asarray(page, dtype=np.float32)
    if look == "clean":
        return Image.fromarray(array.astype(np.uint8)).convert("RGB"), lines
    import cv2

    height, width = array.shape
    pad = 40 if look == "photo" else 20
    canvas = np.full(
        (height + 2 * pad, width + 2 * pad), 255.0 if look == "skewed" else 120.0, dtype=np.float32
    )
    canvas[pad : pad + height, pad : pad + width] = array
    corners = [(pad, pad), (pad + width, pad), (pad + width, pad + height), (pad, pad + height)]
    source = np.array(corners, dtype=np.float32)
    if look == "skewed":
        angle = rng.uniform(-2.0, 2.0)
        matrix = cv2.getRotationMatrix2D((canvas.shape[1] / 2, canvas.shape[0] / 2), angle, 1.0)
        transform = np.vstack([matrix, [0, 0, 1]]).astype(np.float32)
    else:
        jitter = [(rng.uniform(-0.03, 0.03) * width, rng.uniform(-0.02, 0.02) * height) for _ in range(4)]
        target = np.array(
            [(x + dx, y + dy) for (x, y), (dx, dy) in zip(corners, jitter, strict=True)], dtype=np.float32
        )
        transform = np.asarray(cv2.getPerspectiveTransform(source, target), dtype=np.float32)
    warped = np.asarray(
        cv2.warpPerspective(
            canvas, transform, (canvas.shape[1], canvas.shape[0]), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=255.0 if look == "skewed" else 120.0,
        ),
        dtype=np.float64,
    )  # fmt: skip
    if look == "photo":
        # Light falls off across the paper, the lens softens the print, the sensor adds grain.
        ys, xs = np.mgrid[0 : warped.shape[0], 0 : warped.shape[1]].astype(np.float32)
        direction = rng.uniform(0, 2 * math.pi)
        ramp = (xs * math.cos(direction) + ys * math.sin(direction)) / max(warped.shape)
        warped = warped * (0.78 + 0.22 * (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp))))
        warped = np.asarray(cv2.GaussianBlur(warped, (0, 0), rng.uniform(0.6, 1.0)), dtype=np.float64)
        warped += np.random.default_rng(rng.randrange(2**32)).normal(0, 7, warped.shape)
    else:
        warped += np.random.default_rng(rng.randrange(2**32)).normal(0, 4, warped.shape)
    image = Image.fromarray(np.clip(warped, 0, 255).astype(np.uint8)).convert("RGB")
    if look == "photo":
        image = image.filter(ImageFilter.UnsharpMask(radius=1, percent=40, threshold=2))
    return image, [TruthLine(line.text, _moved(line.box, transform, pad)) for line in lines]


def _moved(box: tuple[int, int, int, int], transform: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    corners = np.array(
        [
            [left + pad, top + pad, 1],
            [right + pad, top + pad, 1],
            [right + pad, bottom + pad, 1],
            [left + pad, bottom + pad, 1],
        ],
        dtype=np.float64,
    )
    moved = corners @ transform.T
    xs, ys = moved[:, 0] / moved[:, 2], moved[:, 1] / moved[:, 2]
    return int(xs.min()), int(ys.min()), math.ceil(xs.max()), math.ceil(ys.max())


def truth_records(receipts: list[Receipt]) -> Iterator[dict[str, object]]:
    for receipt in receipts:
        record = asdict(receipt)
        record["lines"] = [{"text": line.text, "box": list(line.box)} for line in receipt.lines]
        yield record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=36)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--record", type=Path, default=None, help="also write the truth with its digest here")
    args = parser.parse_args()
    receipts = generate(args.out, args.count, args.seed)
    records = list(truth_records(receipts))
    (args.out / "truth.json").write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    digest = truth_digest(receipts)
    if args.record is not None:
        recorded = {"digest": digest, "seed": args.seed, "count": args.count, "receipts": records}
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(recorded, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(receipts)} receipts in {args.out}, truth digest {digest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
