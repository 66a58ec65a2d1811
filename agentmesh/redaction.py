"""Finding and masking personal data: emails, phone numbers, card numbers, Vietnamese ID numbers
and configured identifiers.

Used on logs (a structlog processor), audit details, trace attributes and, where a tenant's data
rules say so, on answers. It belongs to the core (logging and telemetry mask with it), so the
policies build on it rather than the other way round. Each category is tuned against the numbers
a Vietnamese ERP is full of, so masking does not eat business data:

- phone: Vietnamese mobiles only with a prefix in use (03x, 05x, 07x, 08x, 09x), landlines 02xx
  with 11 digits, +84/0084 forms, and international numbers written with `+`. A bare 10-digit
  number right after "MST" / "mã số thuế" / "tax code" is a tax code, not a phone; numbers glued to
  letters or codes (`INV-0901234567`, `0312345678-001`) are identifiers, not phones.
- card: 13-19 digits starting 2-6 (the card networks' ranges) that pass the Luhn check, written
  contiguously or in the usual groups (4-4-4-4…, 4-6-5, 4-6-4).
- vn_id: a 12-digit CCCD whose first three digits are a province code and whose fourth is a
  century/sex digit; a 9- or 12-digit number after "CMND", "CCCD", "căn cước", "chứng minh" or
  "ID card".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentmesh.settings import Settings

BUILT_IN_CATEGORIES: tuple[str, ...] = ("email", "phone", "card", "vn_id")
IDENTIFIER_NAME = r"[a-z][a-z0-9_]{0,39}"

# A number is not personal data when it is part of a code: glued to letters, or to a separator
# followed by more digits (a branch suffix, a date, a version).
_START = r"(?<![\w/.\-+])"
_END = r"(?![\w]|[\-/.]\d)"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
)

_SEP = r"[ .\-]?"
_VN_MOBILE_PREFIX = r"0(?:3[2-9]|5[5689]|7[06-9]|8[1-9]|9[0-46-9])"
_PHONE = re.compile(
    "|".join(
        (
            # +84 / 0084 followed by a mobile (9 digits) or a landline (10 digits), optional "(0)".
            rf"(?<![\w+])(?:\+|00)84{_SEP}(?:\(0\){_SEP})?(?:[35789](?:{_SEP}\d){{8}}|2(?:{_SEP}\d){{9}}){_END}",
            # Domestic mobile: 10 digits with a prefix in use; written bare it may be a tax code.
            rf"{_START}(?P<mobile>{_VN_MOBILE_PREFIX}(?:{_SEP}\d){{7}}){_END}",
            # Domestic landline: 02x area code, 11 digits, the area code sometimes in brackets.
            rf"{_START}(?:\(02\d\)|02\d)(?:{_SEP}\d){{8}}{_END}",
            # Any other country, written with +: 8 to 15 digits.
            rf"(?<![\w+])\+(?!84)[1-9](?:[ .\-]?\(?\d\)?){{7,14}}{_END}",
        )
    )
)
_TAX_CODE_CONTEXT = re.compile(
    r"(?i)(?:\bmst|m[ãa] s[ốo] thu[ếe]|tax\s*(?:code|id|no\.?|number)|vat\s*(?:code|no\.?|number)"
    r"|taxpayer\s*(?:id|no\.?|number)?)\W{0,6}$"
)

_CARD = re.compile(rf"{_START}[2-6]\d{{3}}(?:[ \-]?\d){{9,15}}{_END}")
_CARD_GROUPINGS = ((4, 6, 5), (4, 6, 4))

_CCCD = re.compile(rf"{_START}0(?:0[1-9]|[1-8]\d|9[0-6])[0-3]\d{{8}}{_END}")
_ID_AFTER_LABEL = re.compile(
    r"(?i)(?P<label>\b(?:cmnd|cmt|cccd|c[ăa]n c[ưu][ớo]c(?: c[ôo]ng d[âa]n)?"
    r"|ch[ứu]ng minh(?: nh[âa]n d[âa]n| th[ưu])?|(?:national|citizen) id(?: card| number| no\.?)?"
    r"|identity (?:card|number|no\.?)|id card)"
    r"[^\d\n]{0,20})(?P<number>\d{12}|\d{9})(?!\d)"
)

_HAS_DIGIT = re.compile(r"\d")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum of card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_like(candidate: str) -> bool:
    digits = re.sub(r"[ \-]", "", candidate)
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    groups = [len(group) for group in re.split(r"[ \-]", candidate)]
    if len(groups) == 1:
        return True
    if len(set(re.findall(r"[ \-]", candidate))) > 1:
        return False
    fours = all(size == 4 for size in groups[:-1]) and 1 <= groups[-1] <= 4
    return fours or tuple(groups) in _CARD_GROUPINGS


def _compile_identifier(name: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"identifier '{name}' is not a valid regular expression: {exc}") from exc


def _placeholder(category: str) -> str:
    return f"[{category.upper()}]"


class Redactor:
    """Masks the chosen categories of personal data in text and in nested JSON-like values.

    `categories` are built-in names (email, phone, card, vn_id) or keys of `identifiers`
    (name -> regular expression); every identifier given is applied. Matches become
    `[EMAIL]`, `[PHONE]`, `[CARD]`, `[VN_ID]`, `[NAME]`.
    """

    def __init__(
        self, categories: Iterable[str] = BUILT_IN_CATEGORIES, identifiers: Mapping[str, str] | None = None
    ) -> None:
        chosen = tuple(dict.fromkeys(categories))
        identifiers = dict(identifiers or {})
        unknown = [c for c in chosen if c not in BUILT_IN_CATEGORIES and c not in identifiers]
        if unknown:
            raise ValueError(f"unknown redaction categories: {', '.join(unknown)}")
        self.categories = tuple(dict.fromkeys((*chosen, *identifiers)))
        # Order matters: emails first (their digits are not phones), cards before phones and IDs
        # (a card contains shorter digit runs), labelled IDs before bare ones.
        steps: list[Callable[[str], str]] = []
        if "email" in chosen:
            steps.append(_redact_emails)
        if "card" in chosen:
            steps.append(_redact_cards)
        if "vn_id" in chosen:
            steps.append(_redact_vn_ids)
        if "phone" in chosen:
            steps.append(_redact_phones)
        self._digit_steps = tuple(steps)
        self._needs_at_or_digit = not identifiers
        self._identifiers = tuple(
            (_compile_identifier(name, pattern), _placeholder(name)) for name, pattern in identifiers.items()
        )

    def redact(self, text: str) -> str:
        """`text` with every match of the chosen categories replaced by its placeholder."""
        if self._needs_at_or_digit and "@" not in text and not _HAS_DIGIT.search(text):
            return text
        for step in self._digit_steps:
            text = step(text)
        for pattern, placeholder in self._identifiers:
            text = pattern.sub(placeholder, text)
        return text

    def redact_obj(self, value: Any) -> Any:
        """A copy of `value` with every string inside (dict values, list items) redacted; keys kept."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: self.redact_obj(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_obj(item) for item in value]
        return value

    def process_log_event(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """A structlog processor: redact every string value of the event dictionary."""
        for key, value in event.items():
            if key not in _LOG_FIELDS_WITHOUT_PII and isinstance(value, str | Mapping | list | tuple):
                event[key] = self.redact_obj(value)
        return event


def platform_redactor(settings: Settings) -> Redactor:
    """Every built-in category plus the identifiers configured in `AGENTMESH_REDACT_IDENTIFIERS`:
    what logs, audit details and traces are masked with."""
    return Redactor(identifiers=settings.redact_identifiers)


_LOG_FIELDS_WITHOUT_PII = frozenset({"timestamp", "level", "trace_id", "span_id", "logger"})


def _redact_emails(text: str) -> str:
    return _EMAIL.sub("[EMAIL]", text) if "@" in text else text


def _redact_cards(text: str) -> str:
    if not _HAS_DIGIT.search(text):
        return text
    return _CARD.sub(lambda m: "[CARD]" if _card_like(m.group()) else m.group(), text)


def _redact_vn_ids(text: str) -> str:
    if not _HAS_DIGIT.search(text):
        return text
    text = _ID_AFTER_LABEL.sub(lambda m: m.group("label") + "[VN_ID]", text)
    return _CCCD.sub("[VN_ID]", text)


def _redact_phones(text: str) -> str:
    if not _HAS_DIGIT.search(text):
        return text

    def replace(match: re.Match[str]) -> str:
        mobile = match.group("mobile")
        if (
            mobile
            and mobile.isdigit()
            and _TAX_CODE_CONTEXT.search(text, max(0, match.start() - 40), match.start())
        ):
            return match.group()
        return "[PHONE]"

    return _PHONE.sub(replace, text)
