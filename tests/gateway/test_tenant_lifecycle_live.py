"""A platform admin exports a tenant and deletes it: nothing of it remains anywhere, and no other
tenant loses anything.

The whole mesh (`agentmesh up`) on PostgreSQL and Redis, with episodes recorded and an OCR
folder per tenant. A throwaway tenant, zenith, is created and given data in every store through
the public APIs (the way `tests/isolation/acme_data.py` seeds acme): a policy override, an agent,
ERP tools (so a tool pin) and a credential, LLM and search provider settings, a chat transcript
with its window, usage and audit, a paused turn's approval, a knowledge document (as an
ingestion job), an upload, a page in its search index, files in its OCR folder, recorded
episodes, rate-limit keys. acme gets some of the same. Then zenith is exported (the archive is
read back) and deleted, and every store is scanned directly: SQL tables by their tenant columns,
Redis by the tenant's hash tag, the RAG index through its server, files on disk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import redis
from redis.exceptions import RedisError
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import mint_server_token
from mcp_servers.search.index import tenant_file_name
from tests.conftest import require_backend
from tests.isolation.acme_data import customer_tool, expect
from tests.isolation.channels import call_tool
from tests.mcp_servers.search.sites import serve
from tests.support.whole_mesh import WholeMesh, running_whole_mesh

pytestmark = pytest.mark.slow

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"

TENANT = "zenith"
OTHER = "acme"
PLATFORM = ("platform", "root", "platform_admin")
ZED = (TENANT, "zed")
ZENITH_ADMIN = (TENANT, "zoe", "tenant_admin")
ALICE = (OTHER, "alice")
ACME_ADMIN = (OTHER, "ada", "tenant_admin")

MARKER = "Zephyrine Harbour Protocol 5512"
DOCUMENT = f"# Zephyrine harbour\n\nUnder the {MARKER} every crate is weighed twice at the north gate.\n"
ACME_MARKER = "Obsidian Quay Rule 3317"
ACME_DOCUMENT = f"# Obsidian quay\n\nThe {ACME_MARKER} keeps forklifts off the quay after dusk.\n"
CARD_TOOL = "zenith_customer_card"
AGENT = "zenith-cards"
LLM_KEY = "sk-zenith-lifecycle-key-QWERTY"
SEARCH_KEY = "BSA-zenith-lifecycle-search-key"
ERP_SECRET = "zenith-erp-secret-4471"
UPLOAD = b"zenith's upload: a scan of a delivery note, \x00\x01\x02 and more bytes" * 20
SECRETS = (LLM_KEY, SEARCH_KEY, ERP_SECRET)
TENANT_COLUMNS = ("tenant_id", "owner")


# -- backends --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backends:
    database_url: str
    redis_prefix: str


async def _admin_sql(statement: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    name = f"agentmesh_life_{uuid.uuid4().hex[:12]}"
    try:
        anyio.run(_admin_sql, f'CREATE DATABASE "{name}"')
    except (OSError, SQLAlchemyError) as exc:
        require_backend("PostgreSQL", f"{POSTGRES_ADMIN_URL}: {exc}")
    store = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        store.ping()
    except RedisError as exc:
        anyio.run(_admin_sql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        require_backend("Redis", f"{REDIS_URL}: {exc}")
    prefix = f"agentmesh-life-{uuid.uuid4().hex[:12]}"
    try:
        yield Backends(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", prefix)
    finally:
        keys = list(store.scan_iter(match=f"{prefix}:*"))
        if keys:
            store.delete(*keys)
        store.close()
        anyio.run(_admin_sql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A web page for zenith's search index (zenith's policy allows fetching from 127.0.0.1)."""

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(
            f"<html><head><title>Zenith harbour notes</title></head><body><p>{MARKER}: the north "
            "gate weighs every crate.</p></body></html>"
        )

    async def robots(request: Any) -> PlainTextResponse:
        return PlainTextResponse("User-agent: *\nAllow: /\n")

    with serve(Starlette(routes=[Route("/harbour", page), Route("/robots.txt", robots)])) as url:
        yield url


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[WholeMesh]:
    data_dir = tmp_path_factory.mktemp("lifecycle")
    ocr_dir = data_dir / "ocr-files"
    for tenant in (TENANT, OTHER):
        (ocr_dir / tenant / "scans").mkdir(parents=True)
        (ocr_dir / tenant / "scans" / "note.txt").write_text(f"{tenant}'s scanned note")
    env = {
        "DATABASE_URL": backends.database_url,
        "REDIS_URL": REDIS_URL,
        "AGENTMESH_REDIS_PREFIX": backends.redis_prefix,
        "AGENTMESH_RECORD_EPISODES": "true",
        "AGENTMESH_OCR_ALLOWED_DIR": str(ocr_dir),
        "AGENTMESH_RAG_JOB_THRESHOLD_BYTES": "64",
        "AGENTMESH_USER_RATE_LIMIT_RPM": "1000",
        # The web page zenith fetches and its (unreachable) model are on loopback.
        "AGENTMESH_OUTBOUND_ALLOW": "127.0.0.1",
    }
    with running_whole_mesh(data_dir, **env) as running:
        yield running


# -- seeding ---------------------------------------------------------------------------------------


def _call(
    mesh: WholeMesh, who: tuple[str, ...], method: str, path: str, body: Any = None, status: int = 200
) -> Any:
    return expect(mesh.request(method, path, mesh.headers(*who), body), status)


def _wait_for_job(mesh: WholeMesh, tenant: str, admin: tuple[str, ...], job_id: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        job = _call(mesh, admin, "GET", f"/api/admin/tenants/{tenant}/knowledge/jobs/{job_id}")
        if job["state"] == "succeeded":
            return
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.3)


def _upload(mesh: WholeMesh, who: tuple[str, ...], data: bytes) -> dict[str, Any]:
    response = mesh.request(
        "POST",
        f"/api/{who[0]}/uploads",
        {**mesh.headers(*who), "Content-Type": "application/octet-stream"},
        content=data,
        params={"filename": "delivery-note.bin"},
    )
    return expect(response, 201)  # type: ignore[no-any-return]


def _knowledge(mesh: WholeMesh, tenant: str, admin: tuple[str, ...], document_id: str, text_: str) -> None:
    body = {"filename": f"{document_id}.md", "content_base64": base64.b64encode(text_.encode()).decode()}
    outcome = _call(
        mesh, admin, "POST", f"/api/admin/tenants/{tenant}/knowledge", {**body, "document_id": document_id}
    )
    assert outcome["status"] == "queued", outcome
    _wait_for_job(mesh, tenant, admin, outcome["job"]["job_id"])


@dataclass(frozen=True)
class Seeded:
    zenith_upload: dict[str, Any]
    acme_upload: dict[str, Any]


def seed(mesh: WholeMesh, site: str) -> Seeded:
    _call(mesh, PLATFORM, "POST", "/api/admin/tenants", {"id": TENANT, "name": "Zenith Shipping"}, 201)
    override = {
        "tenant": TENANT,
        "agents": ["knowledge", "ocr", "search", AGENT],
        "tools": {
            "allow": ["erp:*", "rag:*", "ocr:*", "search:*"],
            "approve": [f"erp:{CARD_TOOL}"],
            "users": ["search:fetch_page"],
        },
        "network": {"allowed_hosts": ["127.0.0.1"]},
    }
    _call(mesh, PLATFORM, "PUT", f"/api/admin/tenants/{TENANT}/policy", override)
    _call(
        mesh,
        ZENITH_ADMIN,
        "PUT",
        f"/api/admin/tenants/{TENANT}/erp/credentials/demo-erp",
        {"secret": ERP_SECRET},
        204,
    )
    tool = customer_tool(CARD_TOOL, "Zenith's customer card: master data of a customer by MST.")
    assert (
        _call(mesh, ZENITH_ADMIN, "POST", f"/api/admin/tenants/{TENANT}/erp/tools", tool, 201)["live"] is True
    )
    agent = {
        "name": AGENT,
        "description": "Zenith's customer cards by MST.",
        "examples": ["Show the customer card of MST 0123456789"],
        "keywords": ["card"],
        "tools": [f"erp:{CARD_TOOL}"],
        "model": "local",
    }
    _call(mesh, ZENITH_ADMIN, "PUT", f"/api/admin/tenants/{TENANT}/agents/{AGENT}", agent)
    _call(
        mesh,
        ZENITH_ADMIN,
        "PUT",
        f"/api/admin/tenants/{TENANT}/search/provider",
        {"provider": "brave", "api_key": SEARCH_KEY},
    )
    _knowledge(mesh, TENANT, ZENITH_ADMIN, "zephyrine-harbour", DOCUMENT)

    answered = _call(
        mesh,
        ZED,
        "POST",
        f"/api/{TENANT}/chat",
        {"message": f"What does the {MARKER} say?", "agent": "knowledge"},
    )
    assert answered["agent"] == "knowledge" and "weighed twice" in json.dumps(answered), answered
    paused = _call(
        mesh,
        ZED,
        "POST",
        f"/api/{TENANT}/chat",
        {"message": "Show the customer card of MST 3428557611", "agent": AGENT},
    )
    assert paused["outcome"] == "pending_approval", paused
    # Set last: from now on zenith's agents would ask this (unreachable) model.
    llm = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "api_key": LLM_KEY,
        "base_url": "http://127.0.0.1:9/v1",
    }
    _call(mesh, ZENITH_ADMIN, "PUT", f"/api/admin/tenants/{TENANT}/llm", llm)
    zenith_upload = _upload(mesh, ZED, UPLOAD)
    fetched = call_tool(f"{mesh.url}/mcp", mesh.token(*ZED), "search__fetch_page", {"url": f"{site}/harbour"})
    assert not fetched.is_error, fetched.raw

    # acme: a transcript, a document, an upload and its OCR folder (from the fixture).
    _call(mesh, ALICE, "POST", f"/api/{OTHER}/chat", {"message": "What is our return policy?"})
    _knowledge(mesh, OTHER, ACME_ADMIN, "obsidian-quay", ACME_DOCUMENT)
    acme_upload = _upload(mesh, ALICE, b"acme's own upload" * 10)
    return Seeded(zenith_upload=zenith_upload, acme_upload=acme_upload)


# -- scanning every store --------------------------------------------------------------------------


async def _sql_rows(database_url: str, tenant: str) -> dict[str, int]:
    """Rows naming `tenant` in every table of the database (reflected, not as the code declares it)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            schema = MetaData()
            await connection.run_sync(schema.reflect)
            counts: dict[str, int] = {}
            for table in schema.tables.values():
                columns = [table.c[name] for name in TENANT_COLUMNS if name in table.c]
                if table.name == "tenants":
                    columns.append(table.c.id)
                for column in columns:
                    query = select(func.count()).select_from(table).where(column == tenant)
                    counts[f"{table.name}.{column.name}"] = int(
                        (await connection.execute(query)).scalar_one()
                    )
            return counts
    finally:
        await engine.dispose()


def sql_rows(backends: Backends, tenant: str) -> dict[str, int]:
    return anyio.run(_sql_rows, backends.database_url, tenant)


def redis_keys(backends: Backends, tenant: str) -> list[str]:
    with redis.Redis.from_url(REDIS_URL, decode_responses=True) as store:
        return sorted(store.scan_iter(match=f"{backends.redis_prefix}:*{{{tenant}}}*"))


def knowledge_of(mesh: WholeMesh, tenant: str) -> tuple[int, str]:
    """What the RAG server holds for `tenant`: its document count, and what a search for the markers
    finds."""
    settings = mesh.settings
    token = mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server="rag",
        tenant_id=tenant,
        subject="auditor",
        tools=["list_documents", "search"],
    )
    listing = call_tool(mesh.server_urls["rag"], token, "list_documents", {})
    found = call_tool(
        mesh.server_urls["rag"], token, "search", {"query": f"{MARKER} {ACME_MARKER}", "top_k": 5}
    )
    assert not listing.is_error and not found.is_error, (listing.raw, found.raw)
    assert listing.structured is not None and found.structured is not None
    return int(listing.structured["total"]), json.dumps(found.structured["results"])


def files_of(mesh: WholeMesh, tenant: str) -> list[str]:
    """Every file or folder in the data directory that is the tenant's by name or place."""
    data = mesh.data_dir
    places = [
        data / "uploads" / tenant,
        data / "ocr-files" / tenant,
        data / "episodes" / tenant,
        data / "search" / "index" / tenant_file_name(tenant),
    ]
    named = [path for path in data.rglob(f"*{tenant}*") if path.name != "up.log"]
    return sorted(str(path.relative_to(data)) for path in {*places, *named} if path.exists())


def snapshot(mesh: WholeMesh, backends: Backends, tenant: str) -> dict[str, Any]:
    return {
        "sql": sql_rows(backends, tenant),
        "redis_sessions": [key for key in redis_keys(backends, tenant) if ":session:" in key],
        "knowledge": knowledge_of(mesh, tenant)[0],
        "files": files_of(mesh, tenant),
    }


# -- the lifecycle ---------------------------------------------------------------------------------


def _archive(response: httpx.Response) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    assert response.headers["content-disposition"].startswith(f'attachment; filename="agentmesh-{TENANT}-')
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        names = tar.getnames()
        assert names[0] == "manifest.json", names
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}  # type: ignore[union-attr]


def _lines(archive: dict[str, bytes], path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in archive[path].decode().splitlines()]


def check_export(archive: dict[str, bytes], seeded: Seeded) -> None:
    manifest = json.loads(archive["manifest.json"])
    assert manifest["format"] == "agentmesh-tenant-export" and manifest["tenant_id"] == TENANT
    assert manifest["exported_by"] == "root@platform"
    for described in manifest["files"]:
        assert hashlib.sha256(archive[described["path"]]).hexdigest() == described["sha256"], described
    assert {f["path"] for f in manifest["files"]} | {"manifest.json"} == set(archive)
    contents = manifest["contents"]
    expected = {
        "tenant", "agents", "policy_override", "policy_effective", "erp_tools", "erp_credential_names",
        "llm_config", "search_provider", "mcp_server_pins", "sessions", "transcripts", "approvals",
        "audit", "usage", "knowledge", "uploads",
    }  # fmt: skip
    assert expected <= set(contents), contents

    def rows(category: str) -> list[dict[str, Any]]:
        return _lines(archive, contents[category])

    assert [row["name"] for row in rows("tenant")] == ["Zenith Shipping"]
    assert [row["name"] for row in rows("agents")] == [AGENT]
    assert rows("policy_override")[0]["document"]["network"] == {"allowed_hosts": ["127.0.0.1"]}
    assert {doc["tenant"] for doc in rows("policy_effective")} == {"*", TENANT}
    assert [row["name"] for row in rows("erp_tools")] == [CARD_TOOL]
    assert [row["name"] for row in rows("erp_credential_names")] == ["demo-erp"]
    assert [row["model"] for row in rows("llm_config")] == ["gpt-4o-mini"]
    assert [row["provider"] for row in rows("search_provider")] == ["brave"]
    assert CARD_TOOL in {row["tool"] for row in rows("mcp_server_pins")}
    assert len(rows("sessions")) == 2 and MARKER in json.dumps(rows("transcripts"))
    assert [row["status"] for row in rows("approvals")] == ["pending"]
    assert {"admin.erp_tool.create", "tool.call"} <= {row["action"] for row in rows("audit")}
    assert len(rows("usage")) == 2
    knowledge = rows("knowledge")
    documents = [row for row in knowledge if row["kind"] == "document"]
    assert [doc["document_id"] for doc in documents] == ["zephyrine-harbour"] and MARKER in documents[0][
        "text"
    ]
    assert any(row["kind"] == "chunk" and MARKER in row["text"] for row in knowledge)
    uploads = rows("uploads")
    assert [upload["handle"] for upload in uploads] == [seeded.zenith_upload["handle"]]
    assert archive[f"uploads/{uploads[0]['handle']}/delivery-note.bin"] == UPLOAD
    # Never a key, a sealed key, a hint of one, nor anything of acme's.
    omitted = manifest["omitted"]
    assert omitted["host_llm_configs"] == ["api_key_sealed", "key_hint"]
    assert omitted["erp_service_credentials"] == ["ciphertext"]
    whole = b"".join(archive.values())
    for secret in (*SECRETS, LLM_KEY[-4:], b"gAAAAA".decode(), ACME_MARKER, seeded.acme_upload["handle"]):
        assert secret.encode() not in whole, secret


def test_a_tenant_is_exported_then_deleted_from_every_store_and_no_other_tenant_loses_anything(
    mesh: WholeMesh, backends: Backends, site: str
) -> None:
    seeded = seed(mesh, site)
    zenith = snapshot(mesh, backends, TENANT)
    # Zenith really is in every store the scan reads.
    assert all(zenith["sql"][f"{table}.{column}"] > 0 for table, column in [
        ("tenants", "id"), ("chat_sessions", "tenant_id"), ("chat_messages", "tenant_id"),
        ("usage_records", "tenant_id"), ("audit_events", "tenant_id"), ("policy_overrides", "tenant_id"),
        ("host_agents", "owner"), ("host_llm_configs", "tenant_id"), ("host_tool_pins", "owner"),
        ("host_pending_approvals", "tenant_id"), ("erp_tool_configs", "tenant_id"),
        ("erp_service_credentials", "tenant_id"), ("search_provider_configs", "tenant_id"),
        ("uploads", "tenant_id"),
    ]), zenith["sql"]  # fmt: skip
    assert zenith["redis_sessions"] and redis_keys(backends, TENANT)
    assert zenith["knowledge"] == 1
    assert {
        "ocr-files/zenith",
        "episodes/zenith",
        f"search/index/{tenant_file_name(TENANT)}",
    } <= set(zenith["files"]), zenith["files"]
    acme_before = snapshot(mesh, backends, OTHER)
    assert acme_before["knowledge"] >= 1 and acme_before["redis_sessions"]

    # A platform admin exports it: everything, and nothing secret.
    check_export(
        _archive(mesh.request("GET", f"/api/admin/tenants/{TENANT}/export", mesh.headers(*PLATFORM))), seeded
    )

    # Only a platform admin deletes, and never the platform's scope nor their own tenant.
    for who, status, code in [
        (ZENITH_ADMIN, 403, "platform_admin_required"),
        (ACME_ADMIN, 403, "platform_admin_required"),
    ]:
        refused = mesh.request("DELETE", f"/api/admin/tenants/{TENANT}", mesh.headers(*who))
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), refused.text
    for reserved in ("*", "platform"):
        refused = mesh.request("DELETE", f"/api/admin/tenants/{reserved}", mesh.headers(*PLATFORM))
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "tenant_reserved"), (
            refused.text
        )

    report = _call(mesh, PLATFORM, "DELETE", f"/api/admin/tenants/{TENANT}")
    assert report["complete"] and report["tenant_existed"], report
    assert report["uploads"] == 1 and report["episodes"] >= 2 and report["backend_keys"] > 0, report
    servers = {outcome["server"]: outcome for outcome in report["servers"]}
    assert servers["rag"]["removed"]["documents"] == 1 and servers["rag"]["removed"]["chunks"] >= 1
    assert servers["search"]["removed"] == {"pages": 1} and servers["ocr"]["removed"] == {"files": 1}
    assert servers["erp"]["status"] == "nothing_kept"

    # Nothing of zenith remains: not a row, a key, a point or a file.
    gone = snapshot(mesh, backends, TENANT)
    assert {name: count for name, count in gone["sql"].items() if count} == {}
    assert redis_keys(backends, TENANT) == []
    total, found = knowledge_of(mesh, TENANT)
    assert total == 0 and MARKER not in found
    assert gone["files"] == []
    # ... and acme has lost nothing.
    assert snapshot(mesh, backends, OTHER) == acme_before
    assert ACME_MARKER in knowledge_of(mesh, OTHER)[1]
    acme_upload = mesh.request(
        "GET", f"/api/{OTHER}/uploads/{seeded.acme_upload['handle']}", mesh.headers(*ALICE)
    )
    assert acme_upload.status_code == 200, acme_upload.text

    # The tenant is gone for its users; deleting it again is a no-op that says so.
    after = mesh.request("POST", f"/api/{TENANT}/chat", mesh.headers(*ZED), {"message": "hello"})
    assert (after.status_code, after.json()["error"]["code"]) == (404, "unknown_tenant")
    again = _call(mesh, PLATFORM, "DELETE", f"/api/admin/tenants/{TENANT}")
    assert again["complete"] and not again["tenant_existed"] and not any(again["sql_rows"].values()), again
    # The deletion is on the platform's audit record, not the (deleted) tenant's.
    assert (
        anyio.run(_platform_deletions, backends.database_url) == [(f"tenant:{TENANT}", "root@platform")] * 2
    )


async def _platform_deletions(database_url: str) -> list[tuple[str, str]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT resource, principal FROM audit_events "
                    "WHERE tenant_id = '*' AND action = 'admin.tenant.delete' ORDER BY id"
                )
            )
            return [(row.resource, row.principal) for row in rows]
    finally:
        await engine.dispose()
