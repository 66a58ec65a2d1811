"""Published tool schemas are self-contained and spell nullable types out (`portable_schema`)."""

from __future__ import annotations

from mcp_servers.common.schemas import portable_schema


def test_references_are_inlined_and_definitions_dropped() -> None:
    schema = {
        "type": "object",
        "$defs": {"Line": {"type": "object", "properties": {"text": {"type": "string"}}}},
        "properties": {
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
            "first": {"$ref": "#/$defs/Line", "description": "the first line"},
        },
    }
    assert portable_schema(schema) == {
        "type": "object",
        "properties": {
            "lines": {
                "type": "array",
                "items": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            "first": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "description": "the first line",
            },
        },
    }


def test_optional_values_become_nullable_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "page": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "default": None},
            "language": {"anyOf": [{"enum": ["en", "vi"], "type": "string"}, {"type": "null"}]},
            "value": {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]},
        },
    }
    assert portable_schema(schema)["properties"] == {
        "page": {"type": ["integer", "null"], "minimum": 1, "default": None},
        "language": {"type": ["string", "null"], "enum": ["en", "vi", None]},
        "value": {"type": ["string", "number", "null"]},
    }


def test_real_unions_and_recursive_schemas_are_kept() -> None:
    union = {
        "type": "object",
        "properties": {"v": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
    }
    recursive = {
        "type": "object",
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
        "properties": {"root": {"$ref": "#/$defs/Node"}},
    }
    assert portable_schema(union) == union
    assert portable_schema(recursive) == recursive
