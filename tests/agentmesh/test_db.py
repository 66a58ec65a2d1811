"""The migrations are the only schema authority.

Every table comes from the migration history; a process that is not the gateway migrates only the
embedded SQLite default and refuses a configured database that is not at head, saying how to fix
it; and no code outside the migrations creates tables.
"""

from __future__ import annotations

import ast
import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.db import (
    DatabaseAhead,
    DatabaseBehind,
    create_engine,
    current_revision,
    head_revision,
    require_schema,
    schema_differences,
    session_factory,
    upgrade_database,
)
from agentmesh.settings import Settings
from mcp_servers.erp import demo_schema
from mcp_servers.erp.tables import CATALOG_VERSION_ID, ErpCatalogVersionRow
from policies.overrides import VERSION_ROW_ID
from policies.tables import PolicyOverrideVersionRow
from tests.gateway.backends import postgres_database
from tests.support.processes import child_env

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agentmesh", "gateway", "host", "policies", "mcp_servers")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_the_migrations_create_the_change_counters_with_the_tables(engine: AsyncEngine) -> None:
    await upgrade_database(engine)
    async with session_factory(engine)() as db:
        erp = await db.scalar(
            select(ErpCatalogVersionRow.version).where(ErpCatalogVersionRow.id == CATALOG_VERSION_ID)
        )
        policies = await db.scalar(
            select(PolicyOverrideVersionRow.version).where(PolicyOverrideVersionRow.id == VERSION_ROW_ID)
        )
    assert (erp, policies) == (0, 0)


async def test_the_embedded_database_is_migrated_by_the_process_that_needs_it(engine: AsyncEngine) -> None:
    await require_schema(engine, migrate=True)
    assert await current_revision(engine) == head_revision()
    assert "erp_tool_configs" in await table_names(engine)


async def test_a_configured_database_never_migrated_is_refused_and_left_alone(engine: AsyncEngine) -> None:
    with pytest.raises(DatabaseBehind) as refused:
        await require_schema(engine, migrate=False)
    assert str(refused.value) == (
        f"the database at sqlite:///{engine.url.database} is at revision none (never migrated), "
        f"this code needs {head_revision()}: run `agentmesh db upgrade`"
    )
    assert refused.value.code == "database_behind"
    assert await table_names(engine) == set(), "a refused database is not altered"


async def test_a_configured_database_behind_is_refused_with_the_upgrade_command(engine: AsyncEngine) -> None:
    await upgrade_database(engine, "0001")
    with pytest.raises(
        DatabaseBehind, match=r"is at revision 0001, this code needs \w+: run `agentmesh db upgrade`"
    ):
        await require_schema(engine, migrate=False)
    assert await current_revision(engine) == "0001"
    await upgrade_database(engine)
    await require_schema(engine, migrate=False)


async def test_a_database_migrated_by_newer_code_is_refused_as_ahead(engine: AsyncEngine) -> None:
    await upgrade_database(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseAhead, match="at revision 9999, which this code does not know"):
        await require_schema(engine, migrate=False)
    with pytest.raises(DatabaseAhead):
        await require_schema(engine, migrate=True)


@pytest.mark.backends
async def test_a_postgresql_database_behind_is_named_without_credentials() -> None:
    async with postgres_database() as url:
        engine = create_engine(url)
        try:
            await upgrade_database(engine, "0001")
            with pytest.raises(DatabaseBehind) as refused:
                await require_schema(engine, migrate=False)
            database = url.rsplit("/", 1)[1]
            assert str(refused.value).startswith(
                f"the database at postgresql://127.0.0.1:5432/{database} is at revision 0001, this code needs"
            )
            assert "postgres@" not in str(refused.value)
            await upgrade_database(engine)
            await require_schema(engine, migrate=False)
        finally:
            await engine.dispose()


def test_a_server_on_a_database_behind_refuses_to_start_in_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    database = tmp_path / "configured.db"
    url = f"sqlite+aiosqlite:///{database}"
    finished = subprocess.run(
        [sys.executable, "-m", "agentmesh.cli", "serve", "search", "--transport", "http", "--port", "0"],
        env=child_env(settings.resolved_data_dir, DATABASE_URL=url, AGENTMESH_LOG_LEVEL="INFO"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert finished.stdout == ""
    (line,) = finished.stderr.splitlines()
    record = json.loads(line)
    assert (record["event"], record["level"], record["code"]) == (
        "database_not_at_head",
        "error",
        "database_behind",
    )
    assert record["message"].endswith("run `agentmesh db upgrade`")
    with contextlib.closing(sqlite3.connect(database)) as untouched:
        assert untouched.execute("SELECT name FROM sqlite_master").fetchall() == [], "no table was created"


async def test_the_demo_erp_database_has_its_own_history(settings: Settings) -> None:
    engine = demo_schema.demo_engine(settings)
    try:
        assert await demo_schema.seed_demo_database(engine)
        assert await current_revision(engine) == head_revision(demo_schema.DEMO_MIGRATIONS_DIR)
        assert await schema_differences(engine, demo_schema.metadata) == []
        assert not await demo_schema.seed_demo_database(engine), "seeding twice loads nothing more"
    finally:
        await engine.dispose()


def test_no_code_creates_tables_outside_the_migrations() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "create_all"
    ]
    assert offenders == [], "tables come only from the migrations"
