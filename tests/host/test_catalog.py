"""The tool catalog: namespaced, selected by glob, refreshed on change announcements and on a TTL,
tenant-owned tools hidden from other tenants, and at most five tools offered to an LLM."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentmesh.embeddings import sentence_encoder
from agentmesh.outbound import AllowList, OutboundGuard
from agentmesh.settings import Settings, load_settings
from host.agents import AgentConfig
from host.catalog import ToolCatalog, ToolSpec, split_external_name
from host.mcp_pool import McpPool
from host.models.base import Model, ModelRequest, ModelResponse, TextDelta
from host.models.registry import ModelRegistry
from host.routing import AgentProfile, Router
from host.tool_ranking import ToolRanker
from host.turn import TurnInput
from mcp_servers.common.bootstrap import ServeOptions
from mcp_servers.ocr.server import build_server as build_ocr_server
from tests.host.conftest import (
    ACME,
    GLOBEX,
    HostParts,
    collect,
    make_host,
    policies,
    probe_server,
    running,
    tenant_policy,
)
from tests.host.probe_server import ProbeThread, announce_change


@contextlib.asynccontextmanager
async def listed(parts: HostParts, *, start_catalog: bool = True) -> AsyncIterator[ToolCatalog]:
    async with anyio.create_task_group() as task_group:
        if start_catalog:
            parts.catalog.start(task_group)
        await parts.pool.start(task_group)
        await parts.pool.wait_ready(5)
        await parts.catalog.refresh_all()
        try:
            yield parts.catalog
        finally:
            parts.pool.stop()
            task_group.cancel_scope.cancel()


def names(tools: list[ToolSpec]) -> set[str]:
    return {tool.qualified_name for tool in tools}


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await anyio.sleep(0.05)
    return False


def test_names_are_namespaced_for_policies_and_for_models() -> None:
    tool = ToolSpec(server="erp", name="get_customer_debt")
    assert tool.qualified_name == "erp:get_customer_debt"
    assert tool.external_name == "erp__get_customer_debt"
    assert split_external_name(tool.external_name) == ("erp", "get_customer_debt")


async def test_agents_select_tools_by_glob_and_never_see_another_tenants_tools(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    _, parts = make_host(shared_settings, {"probe": probe.url}, agents=[], policy_set=policies())
    async with listed(parts) as catalog:
        assert names(catalog.select(["probe:lookup_*"], tenant_id="acme")) == {"probe:lookup_customer"}
        everything_acme = names(catalog.select(["probe:*"], tenant_id="acme"))
        everything_globex = names(catalog.select(["*"], tenant_id="globex"))
    assert "probe:acme_discount" in everything_acme
    assert "probe:acme_discount" not in everything_globex
    assert everything_acme - everything_globex == {"probe:acme_discount"}
    owned = catalog.find("probe", "acme_discount")
    assert owned is not None and owned.owner_tenant == "acme" and owned.read_only

    catalog.forget_tenant("acme")  # acme was deleted: its own tools go, everyone else's stay
    assert catalog.find("probe", "acme_discount") is None
    assert names(catalog.select(["probe:*"], tenant_id="acme")) == everything_globex


async def test_a_tools_list_changed_announcement_refreshes_the_list(settings: Settings) -> None:
    async with probe_server(settings) as probe:
        _, parts = make_host(settings, {"probe": probe.url}, agents=[], policy_set=policies())
        async with listed(parts) as catalog:
            before = catalog.version
            probe.state.description = "Look up a customer's balance and credit limit by MST."
            await announce_change(probe.bus)
            assert await until(
                lambda: catalog.find("probe", "lookup_customer").description.endswith("credit limit by MST.")
            )
            assert catalog.version > before


async def test_an_expired_list_is_fetched_again(shared_settings: Settings, probe: ProbeThread) -> None:
    issuer = make_host(shared_settings, {}, agents=[], policy_set=policies())[1].issuer
    pool = McpPool(
        {"probe": probe.url}, listing_token=issuer.for_listing, outbound=OutboundGuard(AllowList())
    )
    now = [0.0]
    catalog = ToolCatalog(pool, ttl_seconds=60, clock=lambda: now[0])
    async with anyio.create_task_group() as task_group:
        await pool.start(task_group)
        await pool.wait_ready(5)
        await catalog.ensure_fresh(["probe"])
        probe.state.description = "A new description nobody announced."
        now[0] += 59
        await catalog.ensure_fresh(["probe"])
        assert catalog.find("probe", "lookup_customer").description != probe.state.description  # still fresh
        now[0] += 2
        await catalog.ensure_fresh(["probe"])
        assert catalog.find("probe", "lookup_customer").description == probe.state.description
        pool.stop()


async def test_a_removed_server_leaves_the_pool_and_its_tools_the_catalog(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    _, parts = make_host(shared_settings, {"probe": probe.url}, agents=[], policy_set=policies())
    async with listed(parts) as catalog:
        assert catalog.select(["probe:*"], tenant_id="acme")
        assert parts.pool.remove_server("probe") is True
        catalog.forget("probe")
        assert catalog.select(["probe:*"], tenant_id="acme") == []
        assert catalog.find("probe", "lookup_customer") is None
        assert parts.pool.servers() == [] and parts.pool.remove_server("probe") is False


def spec(name: str, description: str, priority: int = 0) -> ToolSpec:
    render = {"priority": priority} if priority else {}
    return ToolSpec(server="erp", name=name, description=description, render=render, definition_hash=name)


def test_with_more_than_five_candidates_the_most_relevant_five_are_kept() -> None:
    tools = [
        spec("get_customer_debt", "Outstanding and overdue debt of a customer by MST.", priority=1),
        spec("get_payment_history", "Payments a customer made, by MST.", priority=2),
        spec("track_shipment", "Where a shipment is and its delivery status."),
        spec("get_stock_level", "Stock on hand of a SKU in each warehouse."),
        spec("create_order", "Create a sales order for a customer."),
        spec("list_warehouses", "The company's warehouses and their addresses."),
        spec("get_exchange_rate", "Today's currency exchange rate."),
        spec("list_overdue_customers", "Customers with overdue invoices."),
    ]
    ranker = ToolRanker()
    kept = ranker.top("How much does customer 0312345678 still owe us?", tools, 5)
    assert len(kept) == 5
    assert {"get_customer_debt", "list_overdue_customers", "get_payment_history"} <= {t.name for t in kept}
    assert ranker.top("anything", tools[:5], 5) == tools[:5]


@pytest.mark.parametrize("message", ["Đọc chữ trong ảnh này", "Doc chu trong anh nay"])
def test_a_vietnamese_request_ranks_by_the_words_it_shares_with_a_tools_vietnamese_description(
    message: str, tmp_path: Path
) -> None:
    """The encoder finds any two Vietnamese texts alike; the words they share decide. The OCR
    server's own tools: its invoice tool's long description is closer to any Vietnamese text."""
    server = build_ocr_server(load_settings(AGENTMESH_DATA_DIR=tmp_path), ServeOptions())
    tools = [
        ToolSpec(server="ocr", name=tool.name, description=tool.description or "", definition_hash=tool.name)
        for tool in anyio.run(server.list_tools)
    ]
    ranker = ToolRanker()
    assert ranker.rank(message, tools)[0][1].name == "ocr_image"
    assert ranker.rank("Trích xuất thông tin hóa đơn này", tools)[0][1].name == "extract_invoice_fields"


def test_ranking_reuses_the_routers_embedding_of_the_message_from_the_same_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = "How much does customer 0312345678 still owe us?"
    router = Router(
        [
            AgentProfile(name="debt", description="How much a customer owes, by MST tax code."),
            AgentProfile(name="shipment", description="Where a shipment is and when it arrives."),
        ]
    )
    decision = router.route(message)
    assert decision.agent == "debt" and decision.embedding is not None
    assert "embedding" not in decision.model_dump()
    tools = [
        spec("get_customer_debt", "Outstanding and overdue debt of a customer by MST.", priority=1),
        spec("track_shipment", "Where a shipment is and its delivery status."),
    ]
    ranker = ToolRanker()
    expected = [tool.name for _, tool in ranker.rank(message, tools)]  # also embeds the tools once

    model = sentence_encoder()
    encoded: list[str] = []
    real_encode = model.encode

    def counting_encode(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        encoded.extend(texts)
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)

    reused = [tool.name for _, tool in ranker.rank(message, tools, embedding=decision.embedding)]
    assert reused == expected
    assert encoded == [], "the ranking reused the router's vector"
    assert [tool.name for _, tool in ranker.rank(message, tools)] == expected
    assert encoded == [message], "without the router's embedding the message is embedded afresh"
    other_encoder = ToolRanker(encoder=lambda texts: model.encode(list(texts)))
    other_encoder.rank(message, tools, embedding=decision.embedding)
    assert encoded[-1] == message, "an embedding from another encoder is not reused"


class RecordingModel:
    """Stands in for a remote LLM: records the tools it was offered and answers at once."""

    name = "recording:model"

    def __init__(self) -> None:
        self.offered: list[list[str]] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        self.offered.append([tool.name for tool in request.tools])
        yield ModelResponse(text="fine")


class FixedModels(ModelRegistry):
    def __init__(self, model: RecordingModel) -> None:
        super().__init__()
        self._model = model

    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        return self._model


async def test_an_llm_is_offered_only_the_best_fitting_tools(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    model = RecordingModel()
    agent = AgentConfig(
        name="everything", description="All probe tools.", tools=["probe:*"], model="openai:gpt-4o"
    )
    host, _ = make_host(
        shared_settings,
        {"probe": probe.url},
        agents=[agent],
        policy_set=policies(
            tenant_policy("acme", agents=["everything"], allow=["probe:*"], models={"allow": ["recording:*"]})
        ),
        models=FixedModels(model),
        llm_tool_limit=2,
    )
    async with running(host):
        events = await collect(
            host.run_turn(
                TurnInput(caller=ACME, message="What does customer 0123456789 owe?", agent="everything")
            )
        )
        globex_tools = await host.catalog_for(GLOBEX)
    assert events[-1].outcome == "answered"
    [offered] = model.offered
    assert len(offered) == 2 and "lookup_customer" in offered
    assert not globex_tools  # globex's policy grants nothing
