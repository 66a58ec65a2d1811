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

import httpx
import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from gateway.app import public_operations
from gateway.bodies import MAX_JSON_DEPTH, nests_deeper_than
from tests.gateway.mesh import Mesh


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


def test_a_deeply_nested_body_is_a_400_on_a_connection_that_stays_open(mesh: Mesh) -> None:
    deep = b'{"message": "hi", "attachments": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    with httpx.Client(base_url=mesh.url, headers=mesh.headers(), timeout=60) as http:
        refused = http.post("/api/acme/chat", content=deep, headers={"Content-Type": "application/json"})
        after = http.get("/api/acme/sessions")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid_json" and f"deeper than {MAX_JSON_DEPTH}" in error["message"]
    assert after.status_code == 200


def test_an_id_past_the_largest_database_integer_is_a_400(mesh: Mesh) -> None:
    admin = {"Authorization": f"Bearer {mesh.token('acme', 'ada', ['tenant_admin'])}"}
    response = httpx.get(
        f"{mesh.url}/api/admin/tenants/acme/audit", params={"before_id": 2**63}, headers=admin, timeout=60
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query"
