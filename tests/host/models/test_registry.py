"""Which model an agent gets for a tenant: its own key first, the platform's key second, never a guess."""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.outbound import AllowList, OutboundGuard
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings, load_settings
from host.config_versions import ConfigVersions
from host.llm_config import LlmConfigIn, LlmConfigStore
from host.models.anthropic import AnthropicModel
from host.models.base import Message, ModelError, ModelRequest, ModelResponse, TextDelta
from host.models.gemini import GeminiModel
from host.models.local import LocalPlanner
from host.models.openai import OpenAIModel
from host.models.options import ProviderOptions
from host.models.registry import ModelRegistry, ModelUnavailable, UnknownModel
from tests.support.fake_openai import Completion, FakeOpenAI
from tests.support.resolver import StaticResolver

TENANT_KEY = "sk-tenant-acme-1234567890"
DNS = StaticResolver({"vllm.corp.example": ["10.0.0.20"], "llm.example.com": ["93.184.216.34"]})
PUBLIC_ONLY = OutboundGuard(AllowList(), DNS)
"""The platform's guard with an empty allow list."""


def registry(
    settings: Settings, database: async_sessionmaker[AsyncSession], **platform_keys: str
) -> ModelRegistry:
    return ModelRegistry(
        LocalPlanner(),
        llm_configs=LlmConfigStore(database, secret_box(settings), outbound=PUBLIC_ONLY),
        options=ProviderOptions(http_client=httpx2.AsyncClient()),
        platform_keys=platform_keys,
    )


async def test_local_is_the_planner_and_default_is_the_planner_without_a_tenant_llm(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    models = registry(settings, database)
    assert isinstance(await models.resolve("local", tenant_id="acme"), LocalPlanner)
    assert isinstance(await models.resolve("default", tenant_id="acme"), LocalPlanner)


async def test_default_follows_the_tenants_configuration_from_the_next_version(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    models = registry(settings, database)
    versions = ConfigVersions(database)
    assert isinstance(await models.resolve("default", tenant_id="acme", llm_version=0), LocalPlanner)
    store = LlmConfigStore(database, secret_box(settings), outbound=PUBLIC_ONLY)
    await store.set(
        "acme",
        LlmConfigIn(
            provider="openai", model="gpt-4o-mini", api_key=TENANT_KEY, base_url="https://llm.example.com/v1"
        ),
    )
    version = (await versions.current())["llm"]
    chosen = await models.resolve("default", tenant_id="acme", llm_version=version)
    assert isinstance(chosen, OpenAIModel) and chosen.name == "openai:gpt-4o-mini"
    assert isinstance(await models.resolve("default", tenant_id="globex", llm_version=version), LocalPlanner)


async def test_a_named_provider_uses_the_tenant_key_else_the_platform_key_else_refuses(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    store = LlmConfigStore(database, secret_box(settings), outbound=PUBLIC_ONLY)
    await store.set("acme", LlmConfigIn(provider="anthropic", model="claude-haiku-5-5", api_key=TENANT_KEY))
    models = registry(settings, database, openai="sk-platform-0000000000")
    tenant_model = await models.resolve("anthropic:claude-sonnet-5", tenant_id="acme", llm_version=1)
    assert isinstance(tenant_model, AnthropicModel) and tenant_model.name == "anthropic:claude-sonnet-5"
    assert isinstance(await models.resolve("openai:gpt-4o", tenant_id="globex", llm_version=1), OpenAIModel)
    with pytest.raises(ModelUnavailable, match="no API key for anthropic"):
        await models.resolve("anthropic:claude-sonnet-5", tenant_id="globex", llm_version=1)
    with pytest.raises(UnknownModel, match="'mistral' is not available"):
        await models.resolve("mistral:large", tenant_id="acme", llm_version=1)


async def test_platform_keys_come_from_the_settings(settings: Settings) -> None:
    configured = load_settings(
        AGENTMESH_DATA_DIR=settings.data_dir, GEMINI_API_KEY="AIza-platform-key", OPENAI_API_KEY=None
    )
    models = ModelRegistry.from_settings(configured)
    assert isinstance(await models.resolve("gemini:gemini-2.5-flash", tenant_id="acme"), GeminiModel)
    with pytest.raises(ModelUnavailable):
        await models.resolve("openai:gpt-4o", tenant_id="acme")
    await models.aclose()


async def _step(model: object) -> list[TextDelta | ModelResponse]:
    request = ModelRequest(messages=[Message(role="user", content="hello")])
    return [event async for event in model.stream(request)]  # type: ignore[attr-defined]


async def test_a_tenant_base_url_that_turned_private_never_receives_the_key(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    # The base URL resolved to a public address when the admin saved it; by the time the host
    # calls it, the name answers with loopback, where a fake LLM would happily read the key.
    llm = FakeOpenAI(respond=lambda request: Completion(text="hello"))
    with llm.serving() as served:
        port = served.split(":")[2].split("/")[0]
        resolver = StaticResolver({"llm.example.com": ["93.184.216.34"]})
        guard = OutboundGuard(AllowList(), resolver)
        base_url = f"http://llm.example.com:{port}/v1"
        await LlmConfigStore(database, secret_box(settings), outbound=guard).set(
            "acme", LlmConfigIn(provider="openai", model="gpt-4o-mini", api_key=TENANT_KEY, base_url=base_url)
        )
        resolver.answer("llm.example.com", "127.0.0.1")
        models = ModelRegistry.from_settings(
            settings,
            llm_configs=LlmConfigStore(database, secret_box(settings), outbound=guard),
            outbound=guard,
        )
        model = await models.resolve("default", tenant_id="acme", llm_version=1)
        with pytest.raises(ModelError) as refused:
            await _step(model)
        await models.aclose()
        assert llm.requests == [], "nothing reached the address the name now points to"
    assert refused.value.code == "blocked_destination"
    assert refused.value.retryable is False
    assert "llm.example.com resolves to 127.0.0.1, a loopback address" in refused.value.message


async def test_the_platform_allow_list_lets_a_private_llm_through(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    llm = FakeOpenAI(respond=lambda request: Completion(text="hello"))
    with llm.serving() as served:
        port = served.split(":")[2].split("/")[0]
        guard = OutboundGuard(AllowList((f"127.0.0.1:{port}",)), StaticResolver())
        configs = LlmConfigStore(database, secret_box(settings), outbound=guard)
        await configs.set(
            "acme", LlmConfigIn(provider="openai", model="fake", api_key=TENANT_KEY, base_url=served)
        )
        models = ModelRegistry.from_settings(settings, llm_configs=configs, outbound=guard)
        model = await models.resolve("default", tenant_id="acme", llm_version=1)
        events = await _step(model)
        await models.aclose()
        assert [request.api_key for request in llm.requests] == [TENANT_KEY]
    assert isinstance(events[-1], ModelResponse)


async def test_a_deleted_tenants_clients_and_settings_are_forgotten(
    settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    store = LlmConfigStore(database, secret_box(settings), outbound=OutboundGuard(AllowList()))
    await store.set("acme", LlmConfigIn(provider="openai", model="gpt-4o-mini", api_key=TENANT_KEY))
    models = registry(settings, database, openai="sk-platform-0000000000")
    tenant_client = await models.resolve("default", tenant_id="acme", llm_version=1)
    platform_client = await models.resolve("openai:gpt-4o", tenant_id="globex", llm_version=1)
    assert await models.resolve("default", tenant_id="acme", llm_version=1) is tenant_client  # cached

    await store.delete("acme")
    models.forget_tenant("acme")
    # Same version: only forgetting (not a reload) drops the key; the tenant now gets the planner.
    assert isinstance(await models.resolve("default", tenant_id="acme", llm_version=1), LocalPlanner)
    assert await models.resolve("openai:gpt-4o", tenant_id="globex", llm_version=1) is platform_client
