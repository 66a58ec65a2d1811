"""Document metadata and search filters: what may be stored, and how a filter becomes a Qdrant condition.

Metadata values are strings, integers or booleans (or lists of them), the types Qdrant matches
exactly. A filter names a metadata key (or `document_id` / `source_type`) and a value, or a list
of values any of which may match.
"""

from __future__ import annotations

import re
from typing import Any

from qdrant_client import models

from mcp_servers.rag.errors import InvalidFilter

Scalar = str | int | bool
MetadataValue = Scalar | list[Scalar]

TOP_LEVEL_FIELDS = frozenset({"document_id", "source_type"})
MAX_METADATA_KEYS = 32
MAX_LIST_VALUES = 50
MAX_STRING_CHARS = 512
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def validate_metadata(metadata: dict[str, Any] | None) -> dict[str, MetadataValue]:
    """`metadata` checked: at most 32 keys like `lang` or `valid-from`, with storable values."""
    metadata = metadata or {}
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidFilter(f"metadata has {len(metadata)} keys; at most {MAX_METADATA_KEYS} are allowed")
    return {_checked_key(key): _checked_value(key, value) for key, value in metadata.items()}


def filter_conditions(filters: dict[str, Any] | None) -> list[models.FieldCondition]:
    """One Qdrant condition per filter entry; all of them must hold."""
    conditions: list[models.FieldCondition] = []
    for key, value in (filters or {}).items():
        checked = _checked_value(_checked_key(key), value)
        field = key if key in TOP_LEVEL_FIELDS else f"metadata.{key}"
        if isinstance(checked, list):
            if not checked:
                raise InvalidFilter(f"filter '{key}' has an empty list; give at least one value")
            match: models.MatchValue | models.MatchAny = models.MatchAny(any=checked)  # type: ignore[arg-type]
        else:
            match = models.MatchValue(value=checked)
        conditions.append(models.FieldCondition(key=field, match=match))
    return conditions


def _checked_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidFilter(
            f"metadata key {key!r} is not allowed: use a letter then letters, digits, '_' or '-' (at most 64)"
        )
    return key


def _checked_value(key: str, value: object) -> MetadataValue:
    if isinstance(value, list):
        if len(value) > MAX_LIST_VALUES:
            raise InvalidFilter(f"'{key}' has {len(value)} values; at most {MAX_LIST_VALUES} are allowed")
        return [_checked_scalar(key, item) for item in value]
    return _checked_scalar(key, value)


def _checked_scalar(key: str, value: object) -> Scalar:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise InvalidFilter(f"'{key}' is longer than {MAX_STRING_CHARS} characters")
        return value
    kind = "null" if value is None else type(value).__name__
    raise InvalidFilter(f"'{key}' is a {kind}; use a string, an integer, a boolean or a list of them")
