"""Tenant LLM settings: the key is sealed at rest, never shown, and each tenant sees only its own."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.outbound import AllowList, BlockedDestination, OutboundGuard
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from host.config_versions import ConfigVersions
from host.llm_config import LlmConfigIn, LlmConfigNotFound, LlmConfigStore
from tests.support.resolver import StaticResolver

KEY = "sk-live-acme-0123456789abcdef"


DNS = StaticResolver({"openrouter.ai": ["104.18.2.115"], "llm.corp.example": ["10.1.2.3"]})


def store(settings: Settings, database: async_sessionmaker[AsyncSession], *allow: str) -> LlmConfigStore:
    return LlmConfigStore(database, secret_box(settings), outbound=OutboundGuard(AllowList(allow), DNS))


async def test_the_key_is_encrypted_at_rest_and_never_in_a_view(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    configs = store(settings, database)
    view = await configs.set("acme", LlmConfigIn(provider="anthropic", model="claude-sonnet-5", api_key=KEY))
    assert view.has_api_key and view.key_hint == "…cdef"
    assert KEY not in view.model_dump_json()
    assert (await configs.view("acme")) == view
    stored = b"".join(path.read_bytes() for path in settings.resolved_data_dir.glob("agentmesh.db*"))
    assert b"host_llm_configs" in stored and KEY.encode() not in stored
    credentials = await configs.credentials("acme")
    assert credentials is not None and credentials.api_key.get_secret_value() == KEY


async def test_a_tenant_reads_only_its_own_configuration(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    configs = store(settings, database)
    await configs.set("acme", LlmConfigIn(provider="openai", model="gpt-4o-mini", api_key=KEY))
    assert not (await configs.view("globex")).configured
    assert await configs.credentials("globex") is None
    with pytest.raises(LlmConfigNotFound, match="globex"):
        await configs.delete("globex")
    assert (await configs.view("acme")).configured


async def test_every_write_moves_the_llm_version(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    versions = ConfigVersions(database)
    configs = store(settings, database)
    before = (await versions.current())["llm"]
    await configs.set("acme", LlmConfigIn(provider="gemini", model="gemini-2.5-flash", api_key=KEY))
    await configs.delete("acme")
    assert (await versions.current())["llm"] == before + 2
    assert not (await configs.view("acme")).configured


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("provider", "mistral", "Input should be 'anthropic', 'openai' or 'gemini'"),
        ("base_url", "ftp://models.example", r"base_url must be an http\(s\) URL"),
        ("api_key", "short", "api_key must be 8 to 500 characters without spaces"),
        ("model", "gpt 4", "should match pattern"),
    ],
)
def test_bad_settings_are_refused_with_a_precise_message(field: str, value: str, message: str) -> None:
    values = {"provider": "openai", "model": "gpt-4o", "api_key": KEY} | {field: value}
    with pytest.raises(ValidationError, match=message):
        LlmConfigIn.model_validate(values)


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://127.0.0.1:11434/v1", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.7/v1", "10.0.0.7 is a private address"),
        ("http://172.16.5.5/v1", "172.16.5.5 is a private address"),
        ("http://192.168.0.20:8000/v1", "192.168.0.20 is a private address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:8000/v1", "::1 is a loopback address"),
        ("http://[fc00::5]/v1", "fc00::5 is a private address"),
        ("http://2130706433/v1", "127.0.0.1 (written as 2130706433) is a loopback address"),
        ("http://0x0a000001/v1", "10.0.0.1 (written as 0x0a000001) is a private address"),
        ("https://llm.corp.example/v1", "llm.corp.example resolves to 10.1.2.3, a private address"),
    ],
)
async def test_a_base_url_that_would_receive_the_key_somewhere_private_is_refused(
    settings: Settings, database: async_sessionmaker[AsyncSession], base_url: str, reason: str
) -> None:
    configs = store(settings, database)
    config = LlmConfigIn(provider="openai", model="gpt-4o-mini", api_key=KEY, base_url=base_url)
    with pytest.raises(BlockedDestination) as refused:
        await configs.set("acme", config)
    assert reason in refused.value.message
    assert "which this platform" in refused.value.message
    assert not (await configs.view("acme")).configured, "nothing was stored"


async def test_a_public_base_url_or_one_the_platform_allows_is_stored(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    public = LlmConfigIn(provider="openai", model="x", api_key=KEY, base_url="https://openrouter.ai/api/v1")
    assert (await store(settings, database).set("acme", public)).base_url == "https://openrouter.ai/api/v1"
    private = LlmConfigIn(provider="openai", model="x", api_key=KEY, base_url="https://llm.corp.example/v1")
    allowing = store(settings, database, "llm.corp.example:443")
    assert (await allowing.set("globex", private)).base_url == "https://llm.corp.example/v1"
