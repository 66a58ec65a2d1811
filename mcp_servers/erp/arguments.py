"""Checking a call's arguments against the tool's input JSON Schema, naming every problem by field.

A person (or a model) fixing a call needs to know which field is wrong and what was expected,
all at once: `mst: '12ab' is not in the expected format: Vietnamese tax code (MST) ...`.
A field's `description` in the schema doubles as the expected-format hint.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from mcp_servers.common.errors import ArgumentProblem, InvalidArguments


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    # Keyed by the schema's JSON text: compiling a validator costs far more than using one.
    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


def _field(path: list[str | int]) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or "arguments"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(error: ValidationError) -> list[ArgumentProblem]:
    path = list(error.absolute_path)
    keyword = error.validator
    expected: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("description")
    if keyword == "required":
        missing = [
            name for name in expected if isinstance(error.instance, dict) and name not in error.instance
        ]
        return [ArgumentProblem(_field([*path, name]), "is required") for name in missing]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(schema.get("properties", {}))
        extra = sorted(name for name in error.instance if name not in allowed)
        return [ArgumentProblem(_field([*path, name]), "is not an accepted argument") for name in extra]
    return [ArgumentProblem(_field(path), _describe(error, hint))]


def _describe(error: ValidationError, hint: str | None) -> str:
    """One readable sentence for a violated keyword; jsonschema's own message for the rare ones."""
    expected: Any = error.validator_value
    value = _shown(error.instance)
    match error.validator:
        case "type":
            return f"must be of type {expected}, got {value}"
        case "pattern":
            return f"{value} is not in the expected format" + (
                f": {hint}" if hint else f" (pattern {expected})"
            )
        case "format":
            return f"{value} is not a valid {expected}" + (f": {hint}" if hint else "")
        case "enum":
            return f"must be one of {', '.join(map(repr, expected))}, got {value}"
        case "minimum":
            return f"must be at least {expected}, got {value}"
        case "maximum":
            return f"must be at most {expected}, got {value}"
        case "exclusiveMinimum":
            return f"must be greater than {expected}, got {value}"
        case "exclusiveMaximum":
            return f"must be less than {expected}, got {value}"
        case "minLength":
            return f"must have at least {expected} characters"
        case "maxLength":
            return f"must have at most {expected} characters"
        case "minItems":
            return f"must have at least {expected} items"
        case "maxItems":
            return f"must have at most {expected} items"
    return error.message


def check_arguments(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    """Raise `InvalidArguments` listing every way `arguments` break `schema`; return if they fit."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    problems = {problem for error in validator.iter_errors(arguments) for problem in _problems(error)}
    if problems:
        raise InvalidArguments(tool, sorted(problems, key=lambda p: (p.field, p.problem)))
