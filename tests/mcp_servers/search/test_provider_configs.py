"""Provider configurations per tenant: keys sealed at rest, never shown, seeded from a file all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.db import create_engine, upgrade_database
from agentmesh.secrets import SecretBox, secret_box
from agentmesh.settings import Settings
from mcp_servers.search.errors import InvalidProviderConfig
from mcp_servers.search.provider_configs import ProviderConfigStore, ProviderSettings

BRAVE_KEY = "BSA-very-secret-key"


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return secret_box(settings)


@pytest.fixture
def store(engine: AsyncEngine, box: SecretBox) -> ProviderConfigStore:
    return ProviderConfigStore(engine, box)


async def test_a_configuration_round_trips_with_its_key(store: ProviderConfigStore) -> None:
    summary = await store.put("acme", ProviderSettings(provider="brave", api_key=SecretStr(BRAVE_KEY)))
    assert (summary.provider, summary.has_api_key, summary.base_url) == ("brave", True, None)
    config = await store.get("acme")
    assert config is not None
    assert config.provider == "brave"
    assert config.api_key is not None and config.api_key.get_secret_value() == BRAVE_KEY


async def test_keys_are_sealed_at_rest(store: ProviderConfigStore, engine: AsyncEngine) -> None:
    await store.put("acme", ProviderSettings(provider="brave", api_key=SecretStr(BRAVE_KEY)))
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM search_provider_configs"))).all()
    assert len(rows) == 1
    assert BRAVE_KEY not in repr(rows)


async def test_summaries_and_reprs_never_show_the_key(store: ProviderConfigStore) -> None:
    await store.put("acme", ProviderSettings(provider="tavily", api_key=SecretStr("tvly-secret")))
    summary = await store.summary("acme")
    config = await store.get("acme")
    assert summary is not None and "tvly-secret" not in summary.model_dump_json()
    assert "tvly-secret" not in repr(config)


async def test_configurations_are_per_tenant(store: ProviderConfigStore) -> None:
    await store.put("acme", ProviderSettings(provider="brave", api_key=SecretStr(BRAVE_KEY)))
    assert await store.get("globex") is None
    assert await store.summary("globex") is None


async def test_putting_again_replaces_and_removing_forgets(store: ProviderConfigStore) -> None:
    await store.put("acme", ProviderSettings(provider="brave", api_key=SecretStr(BRAVE_KEY)))
    await store.put("acme", ProviderSettings(provider="searxng", base_url="http://searx.internal:8080"))  # type: ignore[arg-type]
    config = await store.get("acme")
    assert config is not None
    assert (config.provider, config.base_url, config.api_key) == (
        "searxng",
        "http://searx.internal:8080/",
        None,
    )
    assert await store.remove("acme") is True
    assert await store.get("acme") is None
    assert await store.remove("acme") is False


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"provider": "brave"}, "brave needs an api_key"),
        ({"provider": "tavily", "api_key": ""}, "tavily needs an api_key"),
        ({"provider": "searxng"}, "searxng needs base_url"),
        ({"provider": "bing", "api_key": "k"}, "Input should be 'searxng', 'brave', 'tavily' or 'firecrawl'"),
        ({"provider": "searxng", "base_url": "not a url"}, "Input should be a valid URL"),
        ({"provider": "brave", "api_key": "k", "region": "vn"}, "Extra inputs are not permitted"),
    ],
)
def test_incomplete_settings_are_refused_with_the_reason(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProviderSettings.model_validate(raw)


async def test_a_key_sealed_with_another_secret_key_is_reported_not_leaked(
    engine: AsyncEngine, store: ProviderConfigStore
) -> None:
    await store.put("acme", ProviderSettings(provider="brave", api_key=SecretStr(BRAVE_KEY)))
    other = ProviderConfigStore(engine, SecretBox(Fernet.generate_key()))
    with pytest.raises(InvalidProviderConfig, match="cannot be decrypted; an admin must set it again"):
        await other.get("acme")


async def test_a_seed_file_configures_tenants_at_start(
    engine: AsyncEngine, box: SecretBox, tmp_path: Path
) -> None:
    seed = tmp_path / "providers.yaml"
    seed.write_text(
        "tenants:\n"
        "  acme: {provider: searxng, base_url: 'http://127.0.0.1:8888'}\n"
        f"  globex: {{provider: firecrawl, api_key: '{BRAVE_KEY}'}}\n"
    )
    store = ProviderConfigStore(engine, box, seed_file=seed)
    acme, globex = await store.get("acme"), await store.get("globex")
    assert acme is not None and acme.provider == "searxng"
    assert globex is not None and globex.api_key is not None
    assert globex.api_key.get_secret_value() == BRAVE_KEY


async def test_an_invalid_seed_file_changes_nothing(
    engine: AsyncEngine, box: SecretBox, tmp_path: Path
) -> None:
    seed = tmp_path / "providers.yaml"
    seed.write_text(
        "tenants:\n  acme: {provider: searxng, base_url: 'http://a:1'}\n  globex: {provider: brave}\n"
    )
    store = ProviderConfigStore(engine, box)
    with pytest.raises(InvalidProviderConfig, match=r"tenants\.globex: Value error, brave needs an api_key"):
        await store.load_file(seed)
    assert await store.get("acme") is None
