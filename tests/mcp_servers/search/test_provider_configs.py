"""Provider configurations per tenant: keys sealed at rest, never shown, seeded from a file all or nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.db import create_engine, upgrade_database
from agentmesh.outbound import AllowList, BlockedDestination, OutboundGuard, UnresolvableHost
from agentmesh.secrets import SecretBox, secret_box
from agentmesh.settings import Settings
from mcp_servers.search.errors import InvalidProviderConfig
from mcp_servers.search.provider_configs import ProviderConfigStore, ProviderSettings
from tests.support.resolver import StaticResolver

BRAVE_KEY = "BSA-very-secret-key"
DNS = StaticResolver({"searx.example.com": ["93.184.216.34"], "searx.corp.example": ["192.168.7.7"]})
PUBLIC_ONLY = OutboundGuard(AllowList(), DNS)


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
    return ProviderConfigStore(engine, box, outbound=PUBLIC_ONLY)


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
    await store.put("acme", ProviderSettings(provider="searxng", base_url="http://searx.example.com:8080"))  # type: ignore[arg-type]
    config = await store.get("acme")
    assert config is not None
    assert (config.provider, config.base_url, config.api_key) == (
        "searxng",
        "http://searx.example.com:8080/",
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
    other = ProviderConfigStore(engine, SecretBox(Fernet.generate_key()), outbound=PUBLIC_ONLY)
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
    store = ProviderConfigStore(engine, box, outbound=PUBLIC_ONLY, seed_file=seed)
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
    store = ProviderConfigStore(engine, box, outbound=PUBLIC_ONLY)
    with pytest.raises(InvalidProviderConfig, match=r"tenants\.globex: Value error, brave needs an api_key"):
        await store.load_file(seed)
    assert await store.get("acme") is None


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://127.0.0.1:8888", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.5:8080", "10.0.0.5 is a private address"),
        ("http://172.20.1.1", "172.20.1.1 is a private address"),
        ("http://192.168.1.9", "192.168.1.9 is a private address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:8080", "::1 is a loopback address"),
        ("http://[fd00:12::3]", "fd00:12::3 is a private address"),
        ("http://2130706433:8080", "is a loopback address"),
        ("http://0x7f000001:8080", "is a loopback address"),
        ("https://searx.corp.example", "searx.corp.example resolves to 192.168.7.7, a private address"),
    ],
)
async def test_a_base_url_the_platform_does_not_call_is_refused_when_saved(
    store: ProviderConfigStore, base_url: str, reason: str
) -> None:
    with pytest.raises(BlockedDestination, match=re.escape(reason)):
        await store.put(
            "acme", ProviderSettings.model_validate({"provider": "searxng", "base_url": base_url})
        )
    assert await store.get("acme") is None, "nothing was stored"


async def test_a_base_url_that_does_not_resolve_is_refused_when_saved(store: ProviderConfigStore) -> None:
    with pytest.raises(UnresolvableHost, match=r"searx\.nowhere\.example"):
        await store.put(
            "acme",
            ProviderSettings.model_validate(
                {"provider": "searxng", "base_url": "http://searx.nowhere.example"}
            ),
        )


async def test_a_public_base_url_or_one_the_platform_allows_is_saved(
    engine: AsyncEngine, box: SecretBox
) -> None:
    public = await ProviderConfigStore(engine, box, outbound=PUBLIC_ONLY).put(
        "acme",
        ProviderSettings.model_validate({"provider": "searxng", "base_url": "https://searx.example.com"}),
    )
    allowing = OutboundGuard(AllowList(("searx.corp.example",)), DNS)
    private = await ProviderConfigStore(engine, box, outbound=allowing).put(
        "globex",
        ProviderSettings.model_validate({"provider": "searxng", "base_url": "https://searx.corp.example"}),
    )
    assert (public.base_url, private.base_url) == (
        "https://searx.example.com/",
        "https://searx.corp.example/",
    )
