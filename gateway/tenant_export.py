"""A tenant's export: one tar.gz of its configuration, transcripts, documents, uploads, audit and usage.

`manifest.json` comes first: the tenant, when and by whom, what each part of the archive is
(`contents`), which secret columns were left out (`omitted`), and every file with its size and
SHA-256. Then:

- `records/<table>.jsonl`: every row of the tenant in every table of the platform database, as
  the stores keep them (the tenant, its agents, policy override, ERP tools, credential names, LLM
  settings, search provider, tool pins, sessions, transcripts, approvals, audit log, usage, uploads), sealed
  keys and their hints left out;
- `policy/effective.jsonl`: the policy documents in force for the tenant (the base policy and its
  own, overrides applied);
- `servers/<server>.jsonl`: what each MCP server keeps of it (the RAG server: every document with
  its full text, and its chunks);
- `uploads/<handle>/<filename>`: its uploads, byte for byte (`records/uploads.jsonl` describes them).

The archive is built in a temporary directory (never whole in memory) and streamed from there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel

from gateway.server_tenant_data import ServerTenantData
from gateway.state import GatewayState
from gateway.tenant_records import declared_rows, read_tenant_rows

FORMAT = "agentmesh-tenant-export"
VERSION = 1
MANIFEST = "manifest.json"

CATEGORIES = {
    "tenants": "tenant",
    "host_agents": "agents",
    "policy_overrides": "policy_override",
    "erp_tool_configs": "erp_tools",
    "erp_service_credentials": "erp_credential_names",
    "host_llm_configs": "llm_config",
    "search_provider_configs": "search_provider",
    "host_tool_pins": "mcp_server_pins",
    "chat_sessions": "sessions",
    "chat_messages": "transcripts",
    "host_pending_approvals": "approvals",
    "audit_events": "audit",
    "usage_records": "usage",
    "uploads": "uploads",
}
"""What each table's rows are, in the manifest's words."""
SERVER_CATEGORIES = {"rag": "knowledge"}


class ArchivedFile(BaseModel):
    path: str
    bytes: int
    sha256: str
    records: int | None = None


class Manifest(BaseModel):
    """The first file of every export."""

    format: str = FORMAT
    version: int = VERSION
    tenant_id: str
    exported_at: datetime
    exported_by: str
    contents: dict[str, str]
    omitted: dict[str, list[str]]
    files: list[ArchivedFile]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n")


def _described(root: Path, path: Path) -> ArchivedFile:
    digest, size, lines = hashlib.sha256(), 0, 0
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            lines += block.count(b"\n")
    return ArchivedFile(
        path=path.relative_to(root).as_posix(),
        bytes=size,
        sha256=digest.hexdigest(),
        records=lines if path.suffix == ".jsonl" else None,
    )


class TenantExport:
    """Builds the export archive of one tenant."""

    def __init__(self, state: GatewayState) -> None:
        self._state = state

    async def archive(self, tenant_id: str, *, exported_by: str) -> Path:
        """The tenant's export as a tar.gz in a temporary directory (the caller removes its parent)."""
        state = self._state
        workspace = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="agentmesh-export-")))
        try:
            staged = workspace / "staged"
            contents = await self._stage(tenant_id, staged, exported_by)
            files = await anyio.to_thread.run_sync(
                lambda: [_described(staged, path) for path in sorted(staged.rglob("*")) if path.is_file()]
            )
            manifest = Manifest(
                tenant_id=tenant_id,
                exported_at=datetime.now(UTC),
                exported_by=exported_by,
                contents=contents,
                omitted={rows.table: list(rows.secrets) for rows in declared_rows(state) if rows.secrets},
                files=files,
            )
            archive = workspace / f"agentmesh-{tenant_id}.tar.gz"
            await anyio.to_thread.run_sync(_pack, staged, manifest, archive)
            return archive
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(workspace, ignore_errors=True))
            raise

    async def _stage(self, tenant_id: str, staged: Path, exported_by: str) -> dict[str, str]:
        """Write every part of the export under `staged`; what each part is, by category."""
        state = self._state
        contents: dict[str, str] = {}
        async with state.db() as db:
            tables = await read_tenant_rows(db, state, tenant_id)
        for table, records in tables.items():
            name = f"records/{table}.jsonl"
            await anyio.to_thread.run_sync(_write_lines, staged / name, records)
            contents[CATEGORIES.get(table, table)] = name

        policies = [
            document.model_dump(mode="json") for document in state.host.policies.for_tenant(tenant_id)
        ]
        await anyio.to_thread.run_sync(_write_lines, staged / "policy" / "effective.jsonl", policies)
        contents["policy_effective"] = "policy/effective.jsonl"

        servers = staged / "servers"
        await anyio.to_thread.run_sync(lambda: servers.mkdir(parents=True, exist_ok=True))
        pool = state.host.pool
        exported = await ServerTenantData(
            state.settings, {name: pool.connection(name).url for name in pool.servers()}
        ).export(tenant_id, subject=exported_by, into=servers)
        for server, path in exported.items():
            contents[SERVER_CATEGORIES.get(server, f"{server}_data")] = path.relative_to(staged).as_posix()

        for info in await state.uploads.list(tenant_id):
            data = await state.uploads.read(info)
            await anyio.to_thread.run_sync(
                _write_bytes, staged / "uploads" / info.handle / info.filename, data
            )
        contents["upload_files"] = "uploads/"
        return contents


def _write_bytes(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _pack(staged: Path, manifest: Manifest, archive: Path) -> None:
    manifest_path = staged.parent / MANIFEST
    manifest_path.write_text(manifest.model_dump_json(indent=2))
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(manifest_path, arcname=MANIFEST)
        for described in manifest.files:
            tar.add(staged / described.path, arcname=described.path)
