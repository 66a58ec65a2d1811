"""Documents the test sites serve: Vietnamese HTML pages and a real, minimal PDF."""

from __future__ import annotations


def html_page(title: str, body: str, links: tuple[str, ...] = ()) -> str:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body><header><nav>Trang chủ</nav></header>"
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        f"<footer><ul>{anchors}</ul></footer></body></html>"
    )


RETURN_POLICY = html_page(
    "Chính sách đổi trả",
    "<p>Khách hàng được đổi trả hàng trong vòng 30 ngày kể từ ngày mua, với điều kiện sản phẩm "
    "còn nguyên tem mác và hóa đơn. Hàng điện tử được bảo hành 12 tháng tại trung tâm bảo hành.</p>"
    "<p>Đơn hàng đổi trả được hoàn tiền trong 7 ngày làm việc qua tài khoản ngân hàng.</p>",
)


def pdf_document(lines: list[str], title: str = "Quarterly report") -> bytes:
    """A one-page PDF whose text layer holds `lines` (ASCII), built object by object."""
    text_ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({escaped}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
            b"<< /Title (" + title.encode("latin-1") + b") >>",
        ],
        info=6,
    )


def blank_pdf() -> bytes:
    """A one-page PDF with no text layer at all (what a scan looks like to a text extractor)."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length 0 >>\nstream\n\nendstream",
        ]
    )


def _pdf(objects: list[bytes], info: int | None = None) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R"
    trailer += f" /Info {info} 0 R >>" if info else " >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
