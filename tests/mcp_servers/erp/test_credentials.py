"""Service credentials are encrypted at rest and belong to one tenant."""

from __future__ import annotations

from pathlib import Path

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.secrets import secret_box
from mcp_servers.erp.credentials import ServiceCredentialStore
from tests.mcp_servers.erp.conftest import settings_for


def database_bytes(data_dir: Path) -> bytes:
    """Everything SQLite wrote: the main file and its write-ahead log."""
    return b"".join(path.read_bytes() for path in sorted(data_dir.glob("agentmesh.db*")))


async def test_credentials_are_stored_encrypted_and_scoped_to_their_tenant(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    store = ServiceCredentialStore(session_factory(engine), secret_box(settings))
    secret = "sk-acme-0123456789-very-secret"
    await store.put("acme", "erp", secret)
    await store.put("acme", "erp", secret + "-rotated")

    assert await store.reveal("acme", "erp") == secret + "-rotated"
    assert await store.reveal("globex", "erp") is None
    assert await store.names("acme") == ["erp"]
    assert await store.names("globex") == []
    assert not await store.delete("globex", "erp")
    await engine.dispose()

    stored = database_bytes(tmp_path)
    assert b"erp" in stored, "the row was written"
    assert secret.encode() not in stored
