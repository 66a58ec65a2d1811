"""Invoice and receipt fields from the lines read off a document.

General rules, not templates: a field is found by keywords on the same visual row (or the row
below a label), by the format of its value, and by where it sits on the page. Each field keeps
the row it came from and a confidence: the OCR confidence of that row scaled by how strong the
rule that found it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, Field

from mcp_servers.ocr import layout
from mcp_servers.ocr.amounts import AmountMatch, find_amounts
from mcp_servers.ocr.dates import find_dates
from mcp_servers.ocr.document import Document, TextLine
from mcp_servers.ocr.language import Language, fold


class InvoiceField(BaseModel):
    """One field: its normalised value, the text it was read from, and where."""

    value: str | float | None = Field(description="normalised: ISO date, number for amounts, text otherwise")
    text: str | None = Field(default=None, description="the characters the value was read from")
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    source_line: str | None = Field(default=None, description="the row of the document holding the value")
    page: int | None = None

    @classmethod
    def missing(cls) -> InvoiceField:
        return cls(value=None)


class InvoiceFields(BaseModel):
    """The fields of one invoice or receipt; a field not found has value null and confidence 0.
    These names are the tool's stable output contract."""

    company: InvoiceField = Field(description="the vendor: the shop or company that issued the document")
    date: InvoiceField = Field(description="the issue date, ISO 8601 (YYYY-MM-DD)")
    total: InvoiceField = Field(
        description="the grand total paid, after discounts, tax and rounding, as a number (never a subtotal)"
    )
    tax_code: InvoiceField = Field(description="tax code: Vietnamese MST, GST/SST/VAT registration number")
    invoice_number: InvoiceField
    pages_read: int
    language: Language | None = Field(
        default=None, description="the document's language ('vi' or 'en'), from its first page"
    )


@dataclass(frozen=True)
class Row:
    """One visual row of a page: its lines left to right and their joined text."""

    page: int
    index: int
    lines: tuple[TextLine, ...]
    text: str
    confidence: float
    top: float
    height: float

    @property
    def upper(self) -> str:
        """The text in capitals without diacritics, character for character: labels match
        whether or not the recogniser kept the marks ("TỔNG CỘNG", "Tống cộng", "Tong cong")."""
        return fold(self.text).upper()


@dataclass(frozen=True)
class Candidate:
    value: str | float
    text: str
    score: float
    row: Row

    def field(self) -> InvoiceField:
        return InvoiceField(
            value=self.value,
            text=self.text,
            confidence=round(min(1.0, self.score) * self.row.confidence, 3),
            source_line=self.row.text,
            page=self.row.page,
        )


def extract_invoice_fields(document: Document) -> InvoiceFields:
    """The company, date, total, tax code and invoice number of `document`."""
    rows = list(_rows(document))
    return InvoiceFields(
        company=_best(_company_candidates(rows)),
        date=_best(_date_candidates(rows)),
        total=_best(_total_candidates(rows)),
        tax_code=_best(_tax_code_candidates(rows)),
        invoice_number=_best(_invoice_number_candidates(rows)),
        pages_read=len(document.pages),
        language=document.pages[0].language if document.pages else None,
    )


def _rows(document: Document) -> Iterator[Row]:
    for page in document.pages:
        for index, lines in enumerate(layout.rows(page.lines)):
            text = layout.row_text(lines)
            if not text:
                continue
            yield Row(
                page=page.number,
                index=index,
                lines=tuple(lines),
                text=text,
                confidence=min(line.confidence for line in lines),
                top=min(line.top for line in lines),
                height=max(line.height for line in lines),
            )


def _best(candidates: Iterator[Candidate]) -> InvoiceField:
    # Highest score wins; on a tie the earliest in the document (max keeps the first maximum).
    best = max(candidates, key=lambda candidate: candidate.score, default=None)
    return best.field() if best is not None else InvoiceField.missing()


# --- date ---------------------------------------------------------------------------------

_DATE_LABEL = re.compile(r"\b(DATE|DATED|TARIKH|NGAY|INVOICE DATE|BILL DATE)\b")
_NOT_ISSUE_DATE = re.compile(r"\b(DUE|EXPIR\w*|EXP|VALID|BEST BEFORE|HAN|BIRTH|DOB|NGAY SINH)\b")
_TIME = re.compile(r"\d{1,2}:\d{2}")


def _date_candidates(rows: list[Row]) -> Iterator[Candidate]:
    for position, row in enumerate(rows):
        previous = rows[position - 1].upper if position else ""
        for found in find_dates(row.text):
            score = 0.6
            before = row.upper[: found.start]
            if _DATE_LABEL.search(before) or (_DATE_LABEL.search(previous) and not find_dates(previous)):
                score += 0.35
            if _TIME.search(row.text[found.start + len(found.raw) :]):
                score += 0.2  # a transaction timestamp
            if _NOT_ISSUE_DATE.search(row.upper):
                score -= 0.5
            yield Candidate(found.value.isoformat(), found.raw, score, row)


# --- total --------------------------------------------------------------------------------

# Labels are matched on capitals without diacritics (`Row.upper`). A grand total outranks a plain
# "TOTAL"; subtotals never count: "Tạm tính", "Cộng tiền hàng" and "Tổng tiền hàng" are the goods
# before discount and VAT on Vietnamese bills, as SUB TOTAL is on English ones.
_TOTAL_STRONG = re.compile(
    r"ROUND\w*\s*\w?\s*TOTAL|TOTAL\s*ROUND\w*|GRAND\s*TOTAL|NETT?\s*TOTAL|TOTAL\s*(AMOUNT\s*)?(DUE|PAYABLE)"
    r"|AMOUNT\s*DUE|TOTAL\s*(SALES\s*)?\(?\s*INCL\w*|SALES\s*\(?\s*[IL1]NCL\w*|TOTAL\s*AMOUNT"
    r"|TONG\s*CONG|TONG\s*(SO\s*)?(TIEN\s*)?THANH\s*TOAN|THANH\s*TIEN|JUMLAH"
)
# What the customer pays, after every discount and tax: outranks a "Tổng cộng" printed before them.
_TOTAL_PAYABLE = re.compile(r"PAYABLE|AMOUNT\s*DUE|TOTAL\s*DUE|THANH\s*TOAN")
_TOTAL_PLAIN = re.compile(r"TOTAL|\bTONG\b")
_LABEL_WORDS = re.compile(
    r"TOTAL|\bTONG|CONG|THANH\s*TOAN|THANH\s*TIEN|AMOUNT|DUE|PAYABLE|INCL\w*|JUMLAH|GST|VND|\)"
)
_CURRENCY = re.compile(r"VND")
# "Thành tiền" heads the amount column of the item table; only with an amount on its own row is
# it the bill's total.
_COLUMN_HEADER = re.compile(r"THANH\s*TIEN\W*$|\bD(ON|\.)\s*GIA\b|\bS(O\s*LUONG|L)\b")
_TENDERED = re.compile(r"\bCASH\b|TENDER\w*|\bPAID\b|TIEN\s*KHACH\s*(DUA|TRA)|KHACH\s*DUA")
_NOT_TENDERED = re.compile(r"CASH\s*(BILL|IER|SALE)|CHANGE")
_CHANGE = re.compile(r"CHANGE|\bBAL(ANCE)?\b|TIEN\s*(THUA|THOI|TRA\s*LAI)")
_ROUNDING = re.compile(r"ROUND\w*\s*(ADJ\w*|OFF)|ROUNDING|LAM\s*TRON")
_NOT_TOTAL = re.compile(
    r"SUB\s*-?\s*TOTAL|TOTAL\s*(QTY|QUANTITY|ITEMS?|DISC\w*|SAVING\w*|TAX|GST|SST|VAT|EXCL\w*|WEIGHT|POINTS?)"
    r"|(SALES\s*)?\(?\s*EXCL\w*|CHANGE|TENDER\w*|\bQTY\b"
    r"|TAM\s*TINH|TIEN\s*HANG|TONG\s*(SO\s*)?(LUONG|SL|MON)\b|TONG\s*(TIEN\s*)?(GIAM|CHIET|THUE|VAT)"
    r"|TIEN\s*(THUE|VAT)|TIEN\s*KHACH|TIEN\s*(THUA|THOI|TRA\s*LAI)"
)


@dataclass(frozen=True)
class Check:
    """An amount the document's own arithmetic says was paid, where it is printed, how much it
    adds to a labelled total it confirms, and its score when no label carries it (None: an
    amount computed but printed nowhere, which only confirms)."""

    amount: float
    row: Row
    confirms: float
    alone: float | None


def _total_candidates(rows: list[Row]) -> Iterator[Candidate]:
    labelled = list(_labelled_totals(rows))
    checks = [check for check in (_tendered_minus_change(rows), _subtotal_plus_charges(rows)) if check]
    for candidate in labelled:
        boost = sum(check.confirms for check in checks if _same_amount(candidate.value, check.amount))
        yield Candidate(candidate.value, candidate.text, candidate.score + boost, candidate.row)
    for check in checks:
        if check.alone is None or any(_same_amount(candidate.value, check.amount) for candidate in labelled):
            continue
        # No label carries it: it stands alone, confirmed only by the other check.
        others = sum(o.confirms for o in checks if o is not check and _same_amount(o.amount, check.amount))
        yield Candidate(check.amount, _printed(check.row, check.amount), check.alone + others, check.row)
    if not labelled and not checks:
        yield from _tendered_in_full(rows)


def _same_amount(value: str | float, amount: float) -> bool:
    return isinstance(value, float) and abs(value - amount) < 0.005


def _printed(row: Row, amount: float) -> str:
    """How `amount` is printed on `row`, or the number itself when it is not."""
    return next(
        (found.raw for found in find_amounts(row.text) if abs(found.value - amount) < 0.005), f"{amount:.2f}"
    )


def _labelled_totals(rows: list[Row]) -> Iterator[Candidate]:
    last_total: Candidate | None = None
    for position, row in enumerate(rows):
        upper = row.upper
        if _ROUNDING.search(upper) and not _TOTAL_PLAIN.search(upper):
            if last_total is not None:
                yield from _rounded_total(rows, position, last_total)
            continue
        if _NOT_TOTAL.search(upper) or not (_TOTAL_PLAIN.search(upper) or _TOTAL_STRONG.search(upper)):
            continue
        score = 0.75
        if _TOTAL_STRONG.search(upper):
            score = 0.95 if "ROUND" in upper else 0.9
            if _TOTAL_PAYABLE.search(upper):
                score += 0.03
        printed = [a for a in find_amounts(row.text) if a.value > 0]
        # The amount follows its label; a currency after every amount ("TOTAL: 75,000 VND") is
        # the amount's unit, not a label the amount must follow.
        keyword_end = max(
            (
                match.end()
                for match in _LABEL_WORDS.finditer(upper)
                if not _CURRENCY.fullmatch(match.group()) or any(a.start >= match.end() for a in printed)
            ),
            default=0,
        )
        amounts = [a for a in printed if a.start >= keyword_end]
        source = row
        if not amounts and position + 1 < len(rows) and not _COLUMN_HEADER.search(upper):
            # The value printed under its label.
            source = rows[position + 1]
            amounts = [a for a in find_amounts(source.text) if a.value > 0]
            score -= 0.1
        money = [a for a in amounts if a.has_decimals] or amounts
        if money:
            amount = money[-1]
            score += _money_bonus(amount.has_decimals)
            last_total = Candidate(amount.value, amount.raw, score, source)
            yield last_total


# Cash handed over minus change given back is what was paid, whatever a label says: a misread
# label loses to it. A subtotal plus the taxes and charges after it, less discounts, confirms less.
CASH_CONFIRMS = 0.25
SUM_CONFIRMS = 0.1


def _tendered_minus_change(rows: list[Row]) -> Check | None:
    """What was paid, when the document shows the money tendered and the change given back."""
    for position, row in enumerate(rows):
        if not _TENDERED.search(row.upper) or _NOT_TENDERED.search(row.upper):
            continue
        tendered = [a.value for a in find_amounts(row.text) if a.value > 0]
        after = position + 1
        if not tendered and after < len(rows):
            tendered = [a.value for a in find_amounts(rows[after].text) if a.value > 0]  # under "CASH"
            after += 1
        for following in rows[after : after + 3]:
            if _CHANGE.search(following.upper):
                change = [a.value for a in find_amounts(following.text) if a.value >= 0]
                if tendered and change and tendered[-1] >= change[-1]:
                    return Check(round(tendered[-1] - change[-1], 2), following, CASH_CONFIRMS, alone=0.85)
                break
    return None


_SUBTOTAL = re.compile(
    r"SUB\s*-?\s*TOTAL|TAM\s*TINH|(CONG|TONG)\s*TIEN\s*HANG|TOTAL\s*(SALES\s*)?\(?\s*EXCL\w*"
)
_CHARGE = re.compile(r"GST|SST|VAT|\bTAX|SERVICE|\bSVC|THUE|GTGT|PHI\s*DICH\s*VU|PHU\s*THU")
_DISCOUNT = re.compile(r"DISC\w*|GIAM\s*GIA|CHIET\s*KHAU|KHUYEN\s*MAI|VOUCHER")
# Rows after the subtotal that may hold its taxes, charges, discounts and the grand total.
SUM_REACH = 8


def _subtotal_plus_charges(rows: list[Row]) -> Check | None:
    """The grand total by the bill's arithmetic: the subtotal, plus each tax or service charge
    printed under it, minus each discount, found printed on a later row. When the total's row
    comes first with another amount (misread), the sum only confirms other checks."""
    for position, row in enumerate(rows):
        if not _SUBTOTAL.search(row.upper):
            continue
        printed = [a for a in find_amounts(row.text) if a.value > 0]
        if not printed:
            continue
        expected, adjusted = printed[-1].value, False
        for following in rows[position + 1 : position + 1 + SUM_REACH]:
            upper = following.upper
            amounts = [a for a in find_amounts(following.text) if not _is_rate(following.text, a)]
            if not amounts:
                continue
            if _DISCOUNT.search(upper):
                expected, adjusted = expected - abs(amounts[-1].value), True
            elif _CHARGE.search(upper) and not _TOTAL_PLAIN.search(upper):
                expected, adjusted = expected + amounts[-1].value, True
            elif any(_same_amount(amount.value, expected) for amount in amounts):
                return Check(round(expected, 2), following, SUM_CONFIRMS, alone=0.8)
            elif _TOTAL_PLAIN.search(upper) or _TOTAL_STRONG.search(upper):
                break
        return Check(round(expected, 2), row, SUM_CONFIRMS, alone=None) if adjusted else None
    return None


def _is_rate(text: str, amount: AmountMatch) -> bool:
    """Whether `amount` is a percentage ("GST 6%"), not money."""
    return text[amount.start + len(amount.raw) :].lstrip().startswith("%")


def _tendered_in_full(rows: list[Row]) -> Iterator[Candidate]:
    """With no total printed at all, cash handed over with no change given back is the total."""
    for position, row in enumerate(rows):
        if not _TENDERED.search(row.upper) or _NOT_TENDERED.search(row.upper):
            continue
        if any(_CHANGE.search(following.upper) for following in rows[position + 1 : position + 4]):
            continue
        source = row
        amounts = [a for a in find_amounts(row.text) if a.value > 0]
        if not amounts and position + 1 < len(rows):
            source = rows[position + 1]  # the amount printed under "CASH"
            amounts = [a for a in find_amounts(source.text) if a.value > 0]
        if amounts:
            yield Candidate(amounts[-1].value, amounts[-1].raw, 0.6, source)


def _rounded_total(rows: list[Row], position: int, total: Candidate) -> Iterator[Candidate]:
    """A rounding adjustment after a total: what is paid is the total plus the adjustment."""
    adjustments = find_amounts(rows[position].text)
    if not adjustments or not isinstance(total.value, float):
        return
    paid = round(total.value + adjustments[-1].value, 2)
    for following in rows[position + 1 : position + 3]:
        for amount in find_amounts(following.text):
            if abs(amount.value - paid) < 0.005:
                yield Candidate(paid, amount.raw, 0.93, following)
                return
    yield Candidate(paid, adjustments[-1].raw, 0.8, rows[position])


def _money_bonus(has_decimals: bool) -> float:
    # A value with cents is more likely money than a count.
    return 0.02 if has_decimals else 0.0


# --- company ------------------------------------------------------------------------------

_LEGAL_FORM = re.compile(
    r"\b(SDN\.?\s*BHD|BHD|BERHAD|PLT|ENTERPRISES?|TRADING|CO\.?|COMPANY|CORP\w*|LTD|LIMITED|LLC|INC|GMBH|PTE"
    r"|PERNIAGAAN|KEDAI|RESTORAN|RESTAURANT|C[ÔO]NG\s*TY|CTY|TNHH|C[ỔO]\s*PH[ẦA]N|JSC)\b\.?"
)
_NOT_COMPANY = re.compile(
    r"\b(TAX\s*INVOICE|INVOICE|RECEIPT|CASH\s*BILL|WELCOME|TEL|FAX|PHONE|EMAIL|GST|SST|REG|NO\s*[:.]|JALAN|JLN"
    r"|TAMAN|LOT|ROAD|STREET|ST\.|AVENUE|FLOOR|LEVEL|BLOCK|ĐƯỜNG|PHƯỜNG|QUẬN|HÓA\s*ĐƠN|ĐỊA\s*CHỈ|MST)\b"
)
# A company registration number printed after the name, such as "(801580-T)".
_REGISTRATION = re.compile(
    r"[(\[\uff08]?\s*(CO\.?\s*)?(REG\.?\s*)?(NO\.?\s*)?[:.]?\s*\d{3,}[-\s]?[A-Z]?\s*[)\]\uff09]?\s*$"
)
_TOP_ROWS = 10
FORM_BONUS = 0.4


def _company_candidates(rows: list[Row]) -> Iterator[Candidate]:
    first_page = [row for row in rows if row.page == rows[0].page][:_TOP_ROWS] if rows else []
    tallest = max((row.height for row in first_page), default=0.0)
    for position, row in enumerate(first_page):
        name = _name_part(row.text)
        letters = sum(char.isalpha() for char in name)
        if letters < 3 or letters < 0.5 * len(name.replace(" ", "")) or ":" in name:
            continue  # numbers, or a "label: value" row
        has_form = bool(_LEGAL_FORM.search(name.upper()))
        if _NOT_COMPANY.search(name.upper()) and not has_form:
            continue
        score = 0.5 - 0.03 * position
        if has_form:
            score += FORM_BONUS
        if name.upper() == name:
            score += 0.1  # printed company names are set in capitals; handwriting and notes are not
        if tallest and row.height >= 0.9 * tallest:
            score += 0.05
        for follower in first_page[position + 1 : position + 3]:
            # A name continues in the same type size; a date stamp or logo above it does not.
            same_size = abs(follower.height - row.height) <= 0.3 * max(follower.height, row.height)
            if not same_size or not _continued(name, has_form, follower.text):
                break
            name = f"{name} {_name_part(follower.text)}"
            if not has_form and _LEGAL_FORM.search(follower.upper):
                has_form = True
                score += FORM_BONUS
        yield Candidate(name, row.text, score, row)


def _name_part(text: str) -> str:
    return _REGISTRATION.sub("", text).strip(" ,.-:")


def _continued(name: str, has_form: bool, following: str) -> bool:
    """Whether the row after a name finishes it: the name is cut ("HARDWARE &", "(SETIA") or
    the row adds the legal form ("(SETIA ALAM) SDN BHD")."""
    upper = following.upper()
    if len(upper) > 40 or ":" in upper or (_NOT_COMPANY.search(upper) and not _LEGAL_FORM.search(upper)):
        return False
    if name.endswith(("&", "-", ",")) or name.count("(") > name.count(")"):
        return True
    return not has_form and _LEGAL_FORM.search(upper) is not None


# --- tax code -----------------------------------------------------------------------------

# "TIN" is a whole word: folded Vietnamese has "TINH" ("Tạm tính").
_TAX_LABEL = re.compile(
    r"(M[ÃA]\s*S[ỐO]\s*THU[ẾE]|\bMST|TAX\s*(CODE|ID|NO|REG\w*(\s*NO)?)|GST\s*(REG\w*\s*)?(NO|ID|#)?"
    r"|SST\s*(REG\w*\s*)?(NO|ID)?|VAT\s*(REG\w*\s*)?(NO|ID)|\bTIN\b)\s*\.?\s*[:#]?\s*"
)
_TAX_VALUE = re.compile(r"([A-Z0-9][A-Z0-9\-./ ]{4,24}[A-Z0-9])")
_MST = re.compile(r"^(\d{10})(?:-?(\d{3}))?$")


def _tax_code_candidates(rows: list[Row]) -> Iterator[Candidate]:
    for row in rows:
        upper = row.upper
        for label in _TAX_LABEL.finditer(upper):
            value = _TAX_VALUE.match(upper, label.end())
            if value is None:
                continue
            code = re.sub(r"[\s.]", "", value.group(1)).strip("-")
            if sum(char.isdigit() for char in code) < 6:
                continue
            mst = _MST.match(code)
            if mst:
                code = mst[1] + (f"-{mst[2]}" if mst[2] else "")
            yield Candidate(code, row.text[value.start() : value.end()].strip(), 0.95 if mst else 0.8, row)


# --- invoice number -----------------------------------------------------------------------

_NUMBER_LABELS = (
    (
        re.compile(
            r"(INVOICE|INV|S[ỐO]\s*H[ÓO]A\s*[ĐD][ƠO]N|S[ỐO]\s*H[ĐD])\s*(NO|NUMBER|NUM|#)?\.?\s*[:#]?\s*"
        ),
        0.95,
    ),
    (re.compile(r"(RECEIPT|RCPT|BILL|CHECK|CHK)\s*(NO|NUMBER|NUM|#)\.?\s*[:#]?\s*"), 0.85),
    (re.compile(r"(DOCUMENT|DOC|TRANS\w*|TRX|ORDER|SLIP|REF)\s*(NO|NUMBER|NUM|#|ID)\.?\s*[:#]?\s*"), 0.75),
    (re.compile(r"(?:^|\s)(S[ỐO]|NO)\s*[:.]\s*"), 0.6),
)
_NUMBER_VALUE = re.compile(r"([A-Z0-9][A-Z0-9\-/]{1,29})")


def _invoice_number_candidates(rows: list[Row]) -> Iterator[Candidate]:
    for row in rows:
        upper = row.upper
        for label, score in _NUMBER_LABELS:
            for found in label.finditer(upper):
                value = _NUMBER_VALUE.match(upper, found.end())
                if value is None or not any(char.isdigit() for char in value.group(1)):
                    continue
                if find_dates(value.group(1)):
                    continue
                text = row.text[value.start() : value.end()]
                yield Candidate(text.upper(), text, score, row)
