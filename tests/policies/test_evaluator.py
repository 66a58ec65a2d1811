"""One decision function: deny wins, approve beats allow, nothing matched denies."""

from __future__ import annotations

from policies.evaluator import decide
from policies.loader import PolicySet
from policies.model import Principal, TenantPolicy, ToolRules

ALICE = Principal(tenant_id="acme", subject="alice")


def policies(**tools: list[str]) -> list[TenantPolicy]:
    return [TenantPolicy(tenant="acme", agents=["debt"], tools=ToolRules(**tools))]


def test_nothing_matched_denies() -> None:
    decision = decide(ALICE, "call_tool", "erp:get_customer_debt", None, policies=policies())
    assert (decision.effect, decision.rule) == ("deny", "default-deny")


def test_deny_wins_over_allow() -> None:
    decision = decide(
        ALICE,
        "call_tool",
        "erp:create_order",
        None,
        policies=policies(allow=["erp:*"], deny=["erp:create_*"]),
    )
    assert decision.effect == "deny"
    assert decision.rule == "acme:tools.deny[erp:create_*]"


def test_approve_wins_over_allow() -> None:
    decision = decide(
        ALICE,
        "call_tool",
        "erp:create_order",
        None,
        policies=policies(allow=["erp:*"], approve=["erp:create_order"]),
    )
    assert decision.effect == "approve"


def test_another_tenants_policy_grants_nothing() -> None:
    globex = [TenantPolicy(tenant="globex", agents=["*"], tools=ToolRules(allow=["*"]))]
    assert decide(ALICE, "call_tool", "erp:get_customer_debt", None, policies=globex).effect == "deny"
    assert decide(ALICE, "use_agent", "debt", None, policies=globex).effect == "deny"


def test_demo_policies_enable_the_documented_agents() -> None:
    demo = PolicySet.from_directory()
    globex = Principal(tenant_id="globex", subject="bob")
    assert decide(globex, "use_agent", "debt", None, policies=demo.for_tenant("globex")).allowed
    assert not decide(globex, "use_agent", "shipment", None, policies=demo.for_tenant("globex")).allowed
    acme_order = decide(ALICE, "call_tool", "erp:create_order", None, policies=demo.for_tenant("acme"))
    assert acme_order.effect == "approve"
