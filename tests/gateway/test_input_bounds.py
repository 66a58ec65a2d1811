"""Every request the gateway reads is bounded: JSON nesting, body size, and every integer's range.

A body nested thousands of levels deep made Python's parser raise `RecursionError` (a 500 that
also reset the keep-alive connection); an id past 2**63 overflowed the database's integer (a
500). Both are 400s now, with the JSON error body.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from gateway.app import public_operations
from gateway.bodies import MAX_JSON_DEPTH, nests_deeper_than


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    origin = typing.get_origin(annotation)
    if origin is None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models(argument)


def _unbounded_integers(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[str]:
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        annotation = field.annotation
        arguments = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
        if int in arguments or annotation is int:
            lower = any(isinstance(m, Ge | Gt) for m in field.metadata)
            upper = any(isinstance(m, Le | Lt) for m in field.metadata)
            if not (lower and upper):
                yield f"{model.__name__}.{name}"
        for nested in _models(annotation):
            yield from _unbounded_integers(nested, seen)


def test_every_integer_a_request_carries_has_a_range() -> None:
    seen: set[type[BaseModel]] = set()
    unbounded = [
        field
        for operation in public_operations()
        for model in (operation.body, operation.query)
        if model is not None
        for field in _unbounded_integers(model, seen)
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b'{"text": "' + b"[{" * 5000 + b'"}', False),  # brackets inside a string are text
        (b'{"a\\"[[": ' + b"[" * 70 + b"]" * 70 + b"}", True),  # an escaped quote does not end a string
    ],
)
def test_nesting_is_measured_outside_strings(body: bytes, deeper: bool) -> None:
    assert nests_deeper_than(body, MAX_JSON_DEPTH) is deeper
