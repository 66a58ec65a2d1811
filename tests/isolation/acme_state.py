"""Acme's data as acme's own people (or a platform admin) read it: what "unchanged" is checked on.

Each store is read through the public API (or, for the demo ERP's orders, its database file), so a
write attempt is shown harmless by reading the same store before and after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.isolation.acme_data import ACME_MST, AcmeData
from tests.isolation.attackers import ACME_ADMIN, ALICE, PLATFORM_ADMIN
from tests.isolation.channels import call_tool
from tests.support.whole_mesh import WholeMesh

Reader = Callable[[WholeMesh, AcmeData], Any]


def _read(mesh: WholeMesh, who: tuple[str, ...], path: str) -> tuple[int, Any]:
    response = mesh.request("GET", path, mesh.headers(*who))
    return response.status_code, response.json()


def _admin(path: str) -> Reader:
    return lambda mesh, acme: _read(mesh, ACME_ADMIN, f"/api/admin/tenants/acme{path}")


def _platform(path: str) -> Reader:
    return lambda mesh, acme: _read(mesh, PLATFORM_ADMIN, path)


def _session(mesh: WholeMesh, acme: AcmeData) -> Any:
    return _read(mesh, ALICE, f"/api/acme/sessions/{acme.session_id}"), _read(
        mesh, ALICE, "/api/acme/sessions"
    )


def _uploads(mesh: WholeMesh, acme: AcmeData) -> Any:
    """alice's uploads, and the bytes of the one the attackers go after."""
    headers = mesh.headers(*ALICE)
    content = mesh.request("GET", f"/api/acme/uploads/{acme.upload_handle}/content", headers)
    return _read(mesh, ALICE, "/api/acme/uploads"), content.status_code, content.content


def _erp_data(mesh: WholeMesh, acme: AcmeData) -> Any:
    """Acme's ERP as acme's agents reach it (its service credential included)."""
    answer = call_tool(f"{mesh.url}/mcp", mesh.token(*ALICE), "erp__get_customer_debt", {"mst": ACME_MST})
    return answer.is_error, answer.structured


def _servers(mesh: WholeMesh, acme: AcmeData) -> Any:
    status, body = _read(mesh, PLATFORM_ADMIN, "/api/admin/servers")
    return status, sorted((server["name"], server["url"]) for server in body["items"])


STORES: dict[str, Reader] = {
    "session": _session,
    "knowledge": _admin("/knowledge"),
    "erp_tools": _admin("/erp/tools"),
    "erp_credentials": _admin("/erp/credentials"),
    "erp_data": _erp_data,
    "orders": lambda mesh, acme: mesh.orders(),
    "llm": _admin("/llm"),
    "policy": _platform("/api/admin/tenants/acme/policy"),
    "agents": _admin("/agents"),
    "platform_agents": _platform("/api/admin/agents"),
    "approvals": _admin("/approvals"),
    "pins": _admin("/pins"),
    "tenant": _platform("/api/admin/tenants/acme"),
    "servers": _servers,
    "search_provider": _admin("/search/provider"),
    "uploads": _uploads,
}


def snapshot(mesh: WholeMesh, acme: AcmeData, stores: tuple[str, ...]) -> dict[str, Any]:
    """The named stores of acme, read now."""
    return {store: STORES[store](mesh, acme) for store in stores}
