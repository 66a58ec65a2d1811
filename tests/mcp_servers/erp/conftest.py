"""Helpers for the ERP tests: the fixture, independently computed expectations, a scripted upstream."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentmesh.settings import Settings, load_settings

FIXTURE = Path(__file__).parents[3] / "mcp_servers" / "erp" / "fixtures" / "demo_erp.json"


@pytest.fixture(scope="session")
def demo_data() -> dict[str, Any]:
    return dict(json.loads(FIXTURE.read_text(encoding="utf-8")))


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    """Settings on `data_dir` with embedded defaults, whatever the surrounding environment says."""
    embedded: dict[str, Any] = {
        "AGENTMESH_DATA_DIR": data_dir,
        "DATABASE_URL": None,
        "AGENTMESH_ERP_API_URL": None,
    }
    return load_settings(**(embedded | overrides))


def expected_debt(data: dict[str, Any], tenant: str, mst: str, as_of: str | None = None) -> tuple[int, int]:
    """(outstanding, overdue) of a customer, computed straight from the fixture with plain loops."""
    day = date.fromisoformat(as_of or data["as_of"])
    ledger = data["tenants"][tenant]
    outstanding = overdue = 0
    for invoice in ledger["invoices"]:
        if invoice["mst"] != mst or date.fromisoformat(invoice["issue_date"]) > day:
            continue
        paid = sum(
            p["amount"]
            for p in ledger["payments"]
            if p["invoice_no"] == invoice["invoice_no"] and date.fromisoformat(p["paid_on"]) <= day
        )
        balance = invoice["amount"] - paid
        if balance > 0:
            outstanding += balance
            if date.fromisoformat(invoice["due_date"]) < day:
                overdue += balance
    return outstanding, overdue


def debtors(data: dict[str, Any], tenant: str) -> list[str]:
    """MSTs of the tenant's customers that have overdue debt, largest overdue first."""
    owed = {c["mst"]: expected_debt(data, tenant, c["mst"]) for c in data["tenants"][tenant]["customers"]}
    return sorted((mst for mst, (_, late) in owed.items() if late > 0), key=lambda mst: -owed[mst][1])


class ScriptedUpstream:
    """A local HTTP service standing in for a company ERP, with one endpoint per behaviour under test."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.last_headers: dict[str, str] = {}

    async def _ok(self, request: Request) -> Response:
        self.hits["ok"] += 1
        self.last_headers = dict(request.headers)
        body = await request.body()
        return JSONResponse(
            {
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": json.loads(body) if body else None,
                "headers": {k: v for k, v in request.headers.items() if k.startswith("x-")},
            }
        )

    async def _missing(self, request: Request) -> Response:
        self.hits["missing"] += 1
        message = f"no invoice {request.path_params['number']}"
        return JSONResponse({"error": {"code": "not_found", "message": message}}, status_code=404)

    async def _broken(self, request: Request) -> Response:
        self.hits["broken"] += 1
        return JSONResponse({"error": {"code": "boom", "message": "database is down"}}, status_code=503)

    async def _slow(self, request: Request) -> Response:
        self.hits["slow"] += 1
        await anyio.sleep(1.0)
        return JSONResponse({"late": True})

    async def _big(self, request: Request) -> Response:
        self.hits["big"] += 1
        return JSONResponse({"rows": ["x" * 1000] * 150})

    async def _not_json(self, request: Request) -> Response:
        return Response("<html>hello</html>", media_type="text/html")

    async def _wrong_shape(self, request: Request) -> Response:
        return JSONResponse({"total": "a lot"})

    async def _rejects(self, request: Request) -> Response:
        return JSONResponse({"error": {"message": "quantity must be positive"}}, status_code=422)

    async def _denied(self, request: Request) -> Response:
        return JSONResponse({"error": {"message": "bad API key"}}, status_code=401)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/ok", self._ok, methods=["GET", "POST"]),
                Route("/ok/{item}", self._ok, methods=["GET", "POST"]),
                Route("/invoices/{number}", self._missing),
                Route("/broken", self._broken, methods=["GET", "POST"]),
                Route("/slow", self._slow, methods=["GET", "POST"]),
                Route("/big", self._big),
                Route("/not-json", self._not_json),
                Route("/wrong-shape", self._wrong_shape),
                Route("/rejects", self._rejects, methods=["POST"]),
                Route("/denied", self._denied),
            ]
        )
