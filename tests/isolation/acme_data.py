"""Acme's data in every store, written through the public APIs the way acme's people would.

alice chats (a session with a customer remembered in its window, a transcript, usage and audit
entries) and uploads a scan (an upload only she and acme's admins may use); acme's admin adds two
tenant-only ERP tools, a tenant agent, a knowledge document with a marker phrase no other tenant
has, and an LLM configuration; a platform admin grants acme the
agent and puts one of its tools under approval, so alice's next turn leaves a pending approval
(and raises both tenants' request limits for the suite's pace).
One stored tool definition then changes behind the admin API (as when an ERP integration is edited
in place), so acme also has a tool change waiting to be accepted.

`AcmeData.secrets` is everything only acme knows; no answer to another tenant may contain any of it.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from agentmesh.db import create_engine, session_factory
from agentmesh.outbound import AllowList, OutboundGuard
from mcp_servers.erp.tool_store import ToolConfigStore
from tests.isolation.attackers import ACME_ADMIN, ALICE, PLATFORM_ADMIN
from tests.isolation.channels import list_tools
from tests.support.whole_mesh import WholeMesh

ACME_MST = "3428557611"
ACME_SECOND_MST = "3190048330"
ACME_CUSTOMER = "Evergreen Trading Corporation"
ACME_SHIPMENT = "SH-1042"
ACME_ORDER = "SO-A5001"
ACME_SKU = "ACM-0001"
ACME_AGENTS = ["debt", "shipment", "knowledge", "ocr", "search"]

MARKER = "Quasar Lattice Protocol 7741"
DOCUMENT_ID = "acme-quasar-procedure"
DOCUMENT_TITLE = "Quasar lattice procedure"
DOCUMENT = (
    f"# {DOCUMENT_TITLE}\n\nUnder the {MARKER} every pallet is wrapped twice in violet film and sealed "
    "with copper tape before it leaves the Hai Phong depot.\n"
)

CARD_TOOL = "acme_customer_card"
BRIEF_TOOL = "acme_customer_brief"
TENANT_AGENT = "acme-cards"
LLM_KEY = "sk-acme-isolation-key-ZQXW"
UPLOAD_NAME = "acme-vellum-manifest.txt"
UPLOAD_CONTENT = b"Vellum manifest 6620: twelve crates of acme's copper fittings for the Hai Phong depot.\n"
LLM_MODEL = "gpt-4o-mini"


def customer_tool(name: str, description: str) -> dict[str, Any]:
    """An acme-only ERP tool over the demo ERP's customer profile endpoint."""
    return {
        "name": name,
        "description": description,
        "method": "GET",
        "url": "/customers/{mst}",
        "input_schema": {
            "type": "object",
            "required": ["mst"],
            "properties": {"mst": {"type": "string", "pattern": "^[0-9]{10}(-[0-9]{3})?$"}},
            "additionalProperties": False,
        },
        "auth": {"mode": "service", "credential": "demo-erp", "header": "X-API-Key"},
    }


LIBRARIAN = "acme-librarian"
LIBRARIAN_CONFIG = {
    "name": LIBRARIAN,
    "description": "Acme's librarian: adds and removes documents of the knowledge base.",
    "examples": ["Remove the document acme-old-price-list"],
    "tools": ["rag:ingest_text", "rag:delete_document"],
    "model": "local",
}
"""An agent of nothing but tools that change data: for admins, and for nobody else."""

CARD_CONFIG = customer_tool(CARD_TOOL, "Acme's customer card: master data of one of acme's customers by MST.")
BRIEF_CONFIG = customer_tool(BRIEF_TOOL, "Acme's customer brief for the weekly credit review, by MST.")
BRIEF_CHANGED = {**BRIEF_CONFIG, "description": "Acme's customer brief, now with the sales owner, by MST."}
TENANT_AGENT_CONFIG = {
    "name": TENANT_AGENT,
    "description": "Acme's customer cards: master data of a customer by MST.",
    "examples": ["Show the customer card of MST 0123456789"],
    "keywords": ["card"],
    "tools": [f"erp:{CARD_TOOL}"],
    "model": "local",
}
# The suite makes a few hundred requests a minute as acme and as globex: a platform admin raises
# both tenants' request limits so each attempt meets the refusal it aims at, not the rate limiter
# (test_rate_limits lowers them again to show the two tenants' buckets apart).
SUITE_LIMITS = {"requests_per_minute": 6000}
# Acme's override also grants its own agent and puts its own tool under approval, so a turn of
# alice's pauses and leaves a pending approval behind.
ACME_OVERRIDE = {
    "tenant": "acme",
    "agents": [*ACME_AGENTS, TENANT_AGENT, LIBRARIAN],
    "tools": {"allow": ["erp:*", "rag:*", "ocr:*", "search:*"], "approve": [f"erp:{CARD_TOOL}"]},
    "limits": SUITE_LIMITS,
}
GLOBEX_OVERRIDE = {"tenant": "globex", "limits": SUITE_LIMITS}


@dataclass(frozen=True)
class AcmeData:
    """Where acme's data is, by the ids the seeding got back."""

    session_id: str
    approval_session_id: str
    approval_id: str
    job_id: str
    llm_base_url: str
    upload_handle: str

    @property
    def upload_reference(self) -> str:
        return f"upload://{self.upload_handle}"

    @property
    def secrets(self) -> list[str]:
        """What only acme knows: none of it may reach another tenant."""
        return [
            MARKER,
            "violet film",
            "copper tape",
            DOCUMENT_ID,
            DOCUMENT_TITLE,
            ACME_MST,
            ACME_SECOND_MST,
            ACME_CUSTOMER,
            "321,330,000",
            "321330000",
            "99,700,000",
            "Northern Star Construction JSC",  # the customer of acme's other MST
            "SO-A5042",  # the order behind acme's shipment SH-1042 (whose id the platform's agent cites)
            "0305527730",  # that order's customer
            "0414817265",  # the customer of acme's order SO-A5001 (whose id the platform's get_order cites)
            ACME_SKU,
            "alice",
            self.session_id,
            self.approval_session_id,
            self.approval_id,
            self.job_id,
            CARD_TOOL,
            BRIEF_TOOL,
            "Acme's customer",
            TENANT_AGENT,
            LLM_KEY,
            LLM_KEY[-4:],
            self.llm_base_url,
            "wiki.acme.internal",
            self.upload_handle,
            UPLOAD_NAME,
            "Vellum manifest 6620",
        ]

    def fields(self) -> dict[str, str]:
        """The values attempts name in their paths and bodies (`{session_id}` and so on)."""
        return {
            "session_id": self.session_id,
            "approval_id": self.approval_id,
            "job_id": self.job_id,
            "document_id": DOCUMENT_ID,
            "card_tool": CARD_TOOL,
            "brief_tool": BRIEF_TOOL,
            "tenant_agent": TENANT_AGENT,
            "acme_mst": ACME_MST,
            "acme_shipment": ACME_SHIPMENT,
            "acme_order": ACME_ORDER,
            "acme_sku": ACME_SKU,
            "marker": MARKER,
            "upload_handle": self.upload_handle,
            "upload_reference": self.upload_reference,
        }


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json() if response.content else None


def seed_acme_data(mesh: WholeMesh, llm_base_url: str) -> AcmeData:
    """Write acme's data into every store; returns where it went."""
    alice, admin, platform = (mesh.headers(*who) for who in (ALICE, ACME_ADMIN, PLATFORM_ADMIN))

    debt = expect(
        mesh.request("POST", "/api/acme/chat", alice, {"message": f"What is the debt for MST {ACME_MST}?"}),
        200,
    )
    assert debt["agent"] == "debt" and ACME_CUSTOMER in debt["answer"], debt

    for config in (CARD_CONFIG, BRIEF_CONFIG):
        created = expect(mesh.request("POST", "/api/admin/tenants/acme/erp/tools", admin, config), 201)
        assert created["live"] is True, created
    for name, agent in ((TENANT_AGENT, TENANT_AGENT_CONFIG), (LIBRARIAN, LIBRARIAN_CONFIG)):
        expect(mesh.request("PUT", f"/api/admin/tenants/acme/agents/{name}", admin, agent), 200)
    expect(mesh.request("PUT", "/api/admin/tenants/acme/policy", platform, ACME_OVERRIDE), 200)
    expect(mesh.request("PUT", "/api/admin/tenants/globex/policy", platform, GLOBEX_OVERRIDE), 200)

    card = {"message": f"Show the customer card of MST {ACME_MST}", "agent": TENANT_AGENT}
    paused = expect(mesh.request("POST", "/api/acme/chat", alice, card), 200)
    assert paused["outcome"] == "pending_approval", paused
    pending = expect(mesh.request("GET", "/api/admin/tenants/acme/approvals", admin), 200)["items"]
    approval_id = next(a["id"] for a in pending if a["session_id"] == paused["session_id"])

    job_id = _upload_document(mesh, admin)
    upload_handle = _upload_scan(mesh, alice)

    llm = {"provider": "openai", "model": LLM_MODEL, "api_key": LLM_KEY, "base_url": llm_base_url}
    expect(mesh.request("PUT", "/api/admin/tenants/acme/llm", admin, llm), 200)

    _change_tool_behind_the_api(mesh, admin)
    return AcmeData(
        session_id=debt["session_id"],
        approval_session_id=paused["session_id"],
        approval_id=approval_id,
        job_id=job_id,
        llm_base_url=llm_base_url,
        upload_handle=upload_handle,
    )


def _upload_document(mesh: WholeMesh, admin: dict[str, str]) -> str:
    """Upload the marker document (large enough to be an ingestion job) and wait for the job."""
    upload = {
        "filename": f"{DOCUMENT_ID}.md",
        "content_base64": base64.b64encode(DOCUMENT.encode()).decode(),
        "document_id": DOCUMENT_ID,
    }
    outcome = expect(mesh.request("POST", "/api/admin/tenants/acme/knowledge", admin, upload), 200)
    assert outcome["status"] == "queued", outcome
    job_id: str = outcome["job"]["job_id"]
    deadline = time.monotonic() + 60
    while True:
        job = expect(mesh.request("GET", f"/api/admin/tenants/acme/knowledge/jobs/{job_id}", admin), 200)
        if job["state"] == "succeeded":
            return job_id
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.2)


def _upload_scan(mesh: WholeMesh, alice: dict[str, str]) -> str:
    """alice's upload, kept by the gateway for her turns' tools to read by reference."""
    response = httpx.post(
        f"{mesh.url}/api/acme/uploads",
        params={"filename": UPLOAD_NAME},
        content=UPLOAD_CONTENT,
        headers={**alice, "Content-Type": "text/plain"},
        timeout=60,
    )
    handle: str = expect(response, 201)["handle"]
    return handle


def _change_tool_behind_the_api(mesh: WholeMesh, admin: dict[str, str]) -> None:
    """Edit a stored tool definition directly, then wait until the host withholds it."""

    async def edit() -> None:
        engine = create_engine(mesh.settings.resolved_database_url)
        try:
            await ToolConfigStore(session_factory(engine), outbound=OutboundGuard(AllowList())).update(
                "acme", BRIEF_CHANGED
            )
        finally:
            await engine.dispose()

    anyio.run(edit)
    deadline = time.monotonic() + 20
    while True:
        # The ERP server reloads within a second and announces the change; the next catalog read refetches.
        list_tools(f"{mesh.url}/mcp", mesh.token(*ALICE))
        changes = expect(mesh.request("GET", "/api/admin/tenants/acme/pins", admin), 200)["items"]
        if any(change["tool"] == BRIEF_TOOL for change in changes):
            return
        assert time.monotonic() < deadline, "the changed tool definition was never noticed"
        time.sleep(0.3)
