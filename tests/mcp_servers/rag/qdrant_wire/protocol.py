"""The part of the Qdrant REST API the knowledge index uses, typed by qdrant-client's models.

qdrant-client's `http.models` are generated from the Qdrant server's OpenAPI document, so they
are the wire protocol as the server defines it. Request models forbid unknown fields; response
models ignore them, so a response is checked by validating it and dumping it back: an unknown
or mistyped field does not survive the round trip.

`tenant_scope` states the isolation property on a server backend: every request that selects
points by condition confines them to one tenant with a `must` match on `tenant_id` (IDF corpora
included), every point written carries its tenant, and the remaining requests address points by
id (ids are derived from the tenant) or manage collections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter
from qdrant_client.http import models

TENANT_FIELD = "tenant_id"
ROOT = "/"


@dataclass(frozen=True)
class Endpoint:
    """One REST operation: its method and path pattern, its request body and result types."""

    name: str
    method: str
    pattern: re.Pattern[str]
    request: Any  # the body's type, or None for a request without a body
    result: Any
    selects_points: Literal["filter", "ids", "writes", "no"]


def _path(template: str) -> re.Pattern[str]:
    return re.compile("^" + template.replace("{collection}", "(?P<collection>[A-Za-z0-9_-]+)") + "$")


ENDPOINTS = [
    Endpoint(
        "collection_exists",
        "GET",
        _path("/collections/{collection}/exists"),
        None,
        models.CollectionExistence,
        "no",
    ),
    Endpoint(
        "create_collection", "PUT", _path("/collections/{collection}"), models.CreateCollection, bool, "no"
    ),
    Endpoint(
        "create_field_index",
        "PUT",
        _path("/collections/{collection}/index"),
        models.CreateFieldIndex,
        models.UpdateResult,
        "no",
    ),
    Endpoint(
        "upsert_points",
        "PUT",
        _path("/collections/{collection}/points"),
        models.PointInsertOperations,
        models.UpdateResult,
        "writes",
    ),
    Endpoint(
        "get_points",
        "POST",
        _path("/collections/{collection}/points"),
        models.PointRequest,
        list[models.Record],
        "ids",
    ),
    Endpoint(
        "delete_points",
        "POST",
        _path("/collections/{collection}/points/delete"),
        models.PointsSelector,
        models.UpdateResult,
        "filter",
    ),
    Endpoint(
        "query_points",
        "POST",
        _path("/collections/{collection}/points/query"),
        models.QueryRequest,
        models.QueryResponse,
        "filter",
    ),
    Endpoint(
        "scroll_points",
        "POST",
        _path("/collections/{collection}/points/scroll"),
        models.ScrollRequest,
        models.ScrollResult,
        "filter",
    ),
    Endpoint(
        "count_points",
        "POST",
        _path("/collections/{collection}/points/count"),
        models.CountRequest,
        models.CountResult,
        "filter",
    ),
]


class UnknownEndpoint(LookupError):
    """A request the knowledge index is not expected to send."""


class UnscopedRequest(AssertionError):
    """A request that could touch points of more than one tenant."""


def endpoint(method: str, path: str) -> tuple[Endpoint, str]:
    """The endpoint a request goes to, and the collection it names."""
    for candidate in ENDPOINTS:
        match = candidate.pattern.match(path)
        if candidate.method == method and match:
            return candidate, match["collection"]
    raise UnknownEndpoint(f"{method} {path}")


def round_trip(kind: Any, value: Any) -> Any:
    """`value` validated as `kind` and dumped back to JSON, omitting what it did not set."""
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return adapter.dump_python(adapter.validate_python(value), mode="json", exclude_unset=True)


def check_request(method: str, path: str, body: Any) -> None:
    """Raise unless `body` is exactly what the endpoint's request model describes."""
    target, _ = endpoint(method, path)
    if target.request is None:
        assert body is None, f"{target.name} takes no body"
        return
    assert round_trip(target.request, body) == body, f"{target.name}: body does not round-trip"


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """Raise unless `body` is a Qdrant success envelope around the endpoint's result type."""
    if (method, path) == ("GET", ROOT):
        assert round_trip(models.VersionInfo, body) == body
        return
    target, _ = endpoint(method, path)
    assert status == 200, f"{target.name}: status {status}"
    assert set(body) <= {"result", "status", "time", "usage"}, sorted(body)
    assert body["status"] == "ok" and isinstance(body["time"], float)
    assert round_trip(target.result, body["result"]) == body["result"], (
        f"{target.name}: result does not round-trip"
    )


@dataclass(frozen=True)
class Scope:
    """What a request may touch: one tenant's points, points by id, or no points at all."""

    kind: Literal["tenant", "ids", "collection"]
    tenant: str | None = None
    ids: tuple[str, ...] = ()


def tenant_scope(method: str, path: str, body: Any) -> Scope:
    """The scope of a request, or `UnscopedRequest` when it selects points of any tenant."""
    target, _ = endpoint(method, path)
    if target.selects_points == "no":
        return Scope("collection")
    if target.selects_points == "ids":
        return Scope("ids", ids=tuple(str(i) for i in body["ids"]))
    if target.selects_points == "writes":
        tenants = {(point.get("payload") or {}).get(TENANT_FIELD) for point in body["points"]}
        if len(tenants) != 1 or not next(iter(tenants)):
            raise UnscopedRequest(f"{target.name}: points must all carry one tenant, got {tenants}")
        return Scope("tenant", tenant=next(iter(tenants)))
    if target.name == "delete_points" and "points" in body:
        return Scope("ids", ids=tuple(str(i) for i in body["points"]))
    tenant = _filter_tenant(body.get("filter"), f"{target.name} filter")
    for corpus in _idf_corpora(body):
        if _filter_tenant(corpus, f"{target.name} IDF corpus") != tenant:
            raise UnscopedRequest(f"{target.name}: the IDF corpus is another tenant's")
    return Scope("tenant", tenant=tenant)


def _filter_tenant(flt: Any, where: str) -> str:
    """The tenant a filter confines points to through a `must` match on `tenant_id`."""
    if not flt:
        raise UnscopedRequest(f"{where}: no filter")
    musts = flt.get("must") or []
    musts = musts if isinstance(musts, list) else [musts]
    tenants = {
        condition["match"].get("value")
        for condition in musts
        if isinstance(condition, dict)
        and condition.get("key") == TENANT_FIELD
        and isinstance(condition.get("match"), dict)
    }
    tenants.discard(None)
    if len(tenants) != 1:
        raise UnscopedRequest(f"{where}: no single `must` match on {TENANT_FIELD}: {flt}")
    return str(next(iter(tenants)))


def _idf_corpora(body: Any) -> list[Any]:
    """Every IDF corpus filter in a request, its prefetches' included."""
    found = []
    params = body.get("params") or {}
    idf = params.get("idf")
    if isinstance(idf, dict) and "corpus" in idf:
        found.append(idf["corpus"])
    for prefetch in body.get("prefetch") or []:
        found.extend(_idf_corpora(prefetch))
    return found
