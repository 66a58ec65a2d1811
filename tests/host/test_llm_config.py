"""Tenant LLM settings: the key is sealed at rest, never shown, and each tenant sees only its own."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from host.config_versions import ConfigVersions
from host.llm_config import LlmConfigIn, LlmConfigNotFound, LlmConfigStore

KEY = "sk-live-acme-0123456789abcdef"


def store(settings: Settings, database: async_sessionmaker[AsyncSession]) -> LlmConfigStore:
    return LlmConfigStore(database, secret_box(settings))


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
    assert await configs.view("globex") is None
    assert await configs.credentials("globex") is None
    with pytest.raises(LlmConfigNotFound, match="globex"):
        await configs.delete("globex")
    assert await configs.view("acme") is not None


async def test_every_write_moves_the_llm_version(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    versions = ConfigVersions(database)
    configs = store(settings, database)
    before = (await versions.current())["llm"]
    await configs.set("acme", LlmConfigIn(provider="gemini", model="gemini-2.5-flash", api_key=KEY))
    await configs.delete("acme")
    assert (await versions.current())["llm"] == before + 2
    assert await configs.view("acme") is None


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
