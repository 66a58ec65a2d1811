"""Tool schemas every MCP client reads the same way: self-contained, with nullable types spelled out.

Pydantic writes a nested model as a `$ref` into `$defs` and an optional field as
`anyOf: [X, {"type": "null"}]`. Both are valid JSON Schema, but clients differ on them: some
validators resolve no `$ref` in an `outputSchema`, the MCP Inspector and several IDE clients
warn about `$defs` and `anyOf` they do not render, and models handed the schema read a flat one
better. `portable_schema` inlines every reference (a schema that refers to itself is kept as it
is, since it cannot be inlined), folds `anyOf [X, null]` into `type: [X's type, "null"]` where X
is a plain typed schema (an enum gains `null`), and an `anyOf` of bare types into a type list.
The root stays `type: object`, as MCP requires. Real unions (a string or a list) stay `anyOf`.
"""

from __future__ import annotations

from typing import Any

_DEFS_KEYS = ("$defs", "definitions")
_REF_PREFIXES = ("#/$defs/", "#/definitions/")


class _Recursive(Exception):
    """The schema refers to itself: it cannot be inlined."""


def portable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its references inlined and `anyOf [X, null]` folded (a new dict)."""
    definitions: dict[str, Any] = {}
    for key in _DEFS_KEYS:
        definitions.update(schema.get(key) or {})
    body = {key: value for key, value in schema.items() if key not in _DEFS_KEYS}
    try:
        inlined = _inline(body, definitions, ())
    except _Recursive:
        return schema
    folded = _fold_nullable(inlined)
    assert isinstance(folded, dict)
    return folded


def _inline(node: Any, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIXES):
        name = ref.split("/", 2)[2]
        if name in seen or name not in definitions:
            raise _Recursive(name)
        target = _inline(definitions[name], definitions, (*seen, name))
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        # A description or default written next to the reference wins over the definition's.
        return {**target, **_inline(siblings, definitions, seen)}
    return {key: _inline(value, definitions, seen) for key, value in node.items()}


def _fold_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_fold_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _fold_nullable(value) for key, value in node.items()}
    options = node.get("anyOf")
    if not isinstance(options, list) or not all(isinstance(option, dict) for option in options):
        return node
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if all(set(option) == {"type"} and isinstance(option["type"], str) for option in options):
        # `anyOf` of bare types is a type list: [string, number, null].
        return {**rest, "type": [option["type"] for option in options]}
    if len(options) != 2 or {"type": "null"} not in options:
        return node
    other = next(option for option in options if option != {"type": "null"})
    kind = other.get("type")
    if not isinstance(kind, str) or kind == "null" or "anyOf" in other:
        return node
    folded = {**other, **rest, "type": [kind, "null"]}
    if "enum" in other:
        folded["enum"] = [*other["enum"], None]
    return folded
