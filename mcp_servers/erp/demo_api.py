"""The demo company ERP as a REST API (Starlette): what the ERP tools call over real HTTP.

A caller is a tenant's API key (header `X-API-Key`) or a user's signed identity token
(`Authorization: Bearer`, minted by the platform for this API: `demo_access`); the API resolves
the tenant from either and answers only from that tenant's rows, so another tenant's customer,
shipment or order is simply "not found". Identity claimed in plain headers (`X-Agentmesh-User`,
`X-Agentmesh-Tenant`) is refused: anyone who can reach the API could write them. Errors are
JSON: `{"error": {"code", "message", "details"}}`.

Endpoints:
    GET  /healthz
    GET  /customers/{mst}                   customer profile
    GET  /customers/{mst}/debt?as_of=       outstanding and overdue amounts
    GET  /customers/{mst}/payments?limit=   payment history, newest first
    GET  /customers/overdue?as_of=&min_overdue=&min_days=&limit=
    GET  /shipments/{shipment_id}           latest status
    GET  /shipments/{shipment_id}/events    every status event
    GET  /stock/{sku}                       stock level by warehouse
    POST /orders                            place an order (reserves stock)
    GET  /orders/{order_id}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import anyio
import structlog
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentmesh.db import create_engine, require_schema, session_factory
from agentmesh.errors import AgentmeshError, ErrorCode
from agentmesh.mesh_tokens import MeshTokenError
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from mcp_servers.common.auth import mesh_jwks
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.demo_access import DemoApiKeys, DemoIdentities
from mcp_servers.erp.demo_data import DemoErp, DemoErpError, IdentifierKind, OrderRequest, check_mst
from mcp_servers.erp.demo_schema import demo_engine, load_fixture, seed_demo_database

log = structlog.get_logger(__name__)

API_KEY_HEADER = "X-API-Key"
UNSIGNED_IDENTITY_HEADERS = ("X-Agentmesh-User", "X-Agentmesh-Tenant")
"""How callers once claimed a user and tenant, unsigned: refused outright."""
MAX_BODY_BYTES = 100 * 1024


class Unauthorized(AgentmeshError):
    code = "unauthorized"


class BodyTooLarge(AgentmeshError):
    code = "too_large"


_STATUS: dict[ErrorCode, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
}
"""This API's own HTTP mapping: it is a stand-in for a company's ERP, not part of the gateway."""


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}}, status_code=status
    )


def _ok(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise DemoErpError(
            f"{name} must be a date as YYYY-MM-DD, got {raw!r}", details={"field": name}
        ) from exc


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise DemoErpError(f"{name} must be a whole number, got {raw!r}", details={"field": name}) from exc
    if not low <= value <= high:
        raise DemoErpError(f"{name} must be between {low} and {high}, got {value}", details={"field": name})
    return value


async def _json_body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"request body exceeds {MAX_BODY_BYTES // 1024} KB")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"request body exceeds {MAX_BODY_BYTES // 1024} KB")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise DemoErpError("request body is not valid JSON") from exc


_IDENTIFIER_KINDS: dict[str, IdentifierKind] = {
    "/customers": "customers",
    "/shipments": "shipments",
    "/skus": "skus",
}


class DemoErpApi:
    """Route handlers bound to one demo ERP and its API keys."""

    def __init__(self, erp: DemoErp, keys: DemoApiKeys, identities: DemoIdentities) -> None:
        self.erp = erp
        self.keys = keys
        self.identities = identities

    async def tenant(self, request: Request) -> str:
        """The calling tenant: from a verified identity token, else from the API key."""
        unsigned = [name for name in UNSIGNED_IDENTITY_HEADERS if name in request.headers]
        if unsigned:
            raise Unauthorized(
                f"{' and '.join(unsigned)} cannot say who is calling: send a signed identity token "
                "(Authorization: Bearer) or the tenant's API key"
            )
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return await self._identified_tenant(authorization)
        key = request.headers.get(API_KEY_HEADER)
        tenant_id = await self.keys.tenant_for(key) if key else None
        if tenant_id is None:
            raise Unauthorized(f"missing or unknown API key (send it in the {API_KEY_HEADER} header)")
        return tenant_id

    async def _identified_tenant(self, authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <identity token>'")
        try:
            # Off the event loop: a key rotation may make the JWKS be fetched again.
            claims = await anyio.to_thread.run_sync(self.identities.verify, token.strip())
        except MeshTokenError as exc:
            raise Unauthorized(f"identity token refused: {exc}") from exc
        return claims.tenant_id

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "as_of": self.erp.as_of.isoformat()})

    async def customer(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(await self.erp.customer(tenant_id, request.path_params["mst"]))

    async def debt(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(await self.erp.debt(tenant_id, request.path_params["mst"], _date_param(request, "as_of")))

    async def payments(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        limit = _int_param(request, "limit", 20, 1, 200)
        return _ok(await self.erp.payment_history(tenant_id, request.path_params["mst"], limit))

    async def overdue(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(
            await self.erp.overdue_customers(
                tenant_id,
                as_of=_date_param(request, "as_of"),
                min_overdue=_int_param(request, "min_overdue", 0, 0, 10**15),
                min_days=_int_param(request, "min_days", 0, 0, 3650),
                limit=_int_param(request, "limit", 20, 1, 200),
            )
        )

    async def identifiers(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        kind = _IDENTIFIER_KINDS[request.url.path.rstrip("/")]
        prefix = request.query_params.get("prefix", "")
        if len(prefix) > 64:
            raise DemoErpError("prefix is longer than 64 characters", details={"field": "prefix"})
        limit = _int_param(request, "limit", 20, 1, 100)
        return _ok(await self.erp.identifiers(tenant_id, kind, prefix, limit))

    async def shipment(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(await self.erp.shipment(tenant_id, request.path_params["shipment_id"]))

    async def shipment_events(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(await self.erp.shipment_events(tenant_id, request.path_params["shipment_id"]))

    async def stock(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(await self.erp.stock(tenant_id, request.path_params["sku"]))

    async def create_order(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        try:
            order = OrderRequest.model_validate(await _json_body(request))
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(part) for part in error["loc"]) or "body", "problem": error["msg"]}
                for error in exc.errors()
            ]
            raise DemoErpError("the order is not valid", details={"problems": problems}) from exc
        check_mst(order.mst)
        placed = await self.erp.place_order(tenant_id, order)
        log.info("demo_erp_order_placed", tenant_id=tenant_id, order_id=placed.order_id, total=placed.total)
        return _ok(placed, status=201)

    async def order(self, request: Request) -> Response:
        tenant_id = await self.tenant(request)
        return _ok(await self.erp.order(tenant_id, request.path_params["order_id"]))

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz),
            Route("/customers", self.identifiers),
            Route("/shipments", self.identifiers),
            Route("/skus", self.identifiers),
            Route("/customers/overdue", self.overdue),
            Route("/customers/{mst}", self.customer),
            Route("/customers/{mst}/debt", self.debt),
            Route("/customers/{mst}/payments", self.payments),
            Route("/shipments/{shipment_id}", self.shipment),
            Route("/shipments/{shipment_id}/events", self.shipment_events),
            Route("/stock/{sku}", self.stock),
            Route("/orders", self.create_order, methods=["POST"]),
            Route("/orders/{order_id}", self.order),
        ]


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentmeshError)
    return _error(_STATUS.get(exc.code, 400), exc.code, exc.message, exc.details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "http_error"
    return _error(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}")


def create_demo_api(settings: Settings, *, as_of: date | None = None) -> Starlette:
    """The demo ERP app: seeds its database and provisions tenant keys on startup."""
    fixture = load_fixture()
    demo = demo_engine(settings)
    platform = create_engine(settings.resolved_database_url)
    api = DemoErpApi(
        DemoErp(demo, as_of=as_of or date.fromisoformat(fixture["as_of"]), currency=fixture["currency"]),
        DemoApiKeys(demo),
        DemoIdentities(mesh_jwks(settings), issuer=settings.mesh_issuer, audience=settings.erp_api_audience),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await seed_demo_database(demo)
        # The API keys it provisions are stored as the tenants' ERP credentials on the platform.
        await require_schema(platform, migrate=settings.embedded_database)
        credentials = ServiceCredentialStore(session_factory(platform), secret_box(settings))
        await api.keys.provision(sorted(fixture["tenants"]), credentials)
        try:
            yield
        finally:
            await demo.dispose()
            await platform.dispose()

    return Starlette(
        routes=api.routes(),
        lifespan=lifespan,
        exception_handlers={AgentmeshError: _domain_error, HTTPException: _http_error},
    )
