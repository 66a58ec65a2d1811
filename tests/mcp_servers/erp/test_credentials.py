"""Service credentials are encrypted at rest and belong to one tenant."""

from __future__ import annotations

from pathlib import Path

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.expiring_cache import InProcessCache
from agentmesh.secrets import secret_box
from mcp_servers.erp.credentials import CACHE_SECONDS, ServiceCredentialStore
from tests.mcp_servers.erp.conftest import settings_for
from tests.support.clock import ManualClock


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


async def test_an_opened_credential_is_kept_for_a_while_per_tenant_and_dropped_on_change(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    clock = ManualClock()
    sessions = session_factory(engine)
    server = ServiceCredentialStore(sessions, secret_box(settings), opened=InProcessCache(clock=clock))
    admin = ServiceCredentialStore(sessions, secret_box(settings))  # another process: the gateway
    await admin.put("acme", "erp", "first")

    assert await server.reveal("acme", "erp") == "first"
    assert await server.reveal("globex", "erp") is None, "acme's opened credential is acme's alone"

    await admin.put("acme", "erp", "second")
    assert await server.reveal("acme", "erp") == "first", "kept until it expires"
    clock.now += CACHE_SECONDS
    assert await server.reveal("acme", "erp") == "second"

    await server.put("acme", "erp", "third")
    assert await server.reveal("acme", "erp") == "third", "this store's own change is seen at once"
    await server.delete("acme", "erp")
    assert await server.reveal("acme", "erp") is None

    await admin.put("acme", "erp", "fourth")
    assert await server.reveal("acme", "erp") == "fourth"
    async with sessions.begin() as db:
        await server.delete_tenant(db, "acme")
    assert await server.reveal("acme", "erp") is None, "a deleted tenant's credential is forgotten"
    await engine.dispose()
