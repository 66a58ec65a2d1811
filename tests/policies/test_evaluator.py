"""One decision function: deny wins, approve beats allow, nothing matched denies, for every action."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies.evaluator import WRITES_NEED_ADMIN, decide
from policies.limits import Limits
from policies.loader import PolicySet
from policies.model import GlobRules, NetworkRules, Principal, TenantPolicy, ToolRules

ALICE = Principal(tenant_id="acme", subject="alice")
ADA = Principal(tenant_id="acme", subject="ada", roles=["tenant_admin"])
"""An admin: tools that change data are hers to call, so only the policies' rules decide."""


def policies(**tools: list[str]) -> list[TenantPolicy]:
    return [
        TenantPolicy(tenant="acme", agents=GlobRules(allow=("debt",)), tools=ToolRules.model_validate(tools))
    ]


def call(documents: list[TenantPolicy], tool: str, arguments: dict[str, Any] | None = None) -> Any:
    context = None if arguments is None else {"arguments": arguments}
    return decide(ADA, "call_tool", tool, context, policies=documents)


def test_nothing_matched_denies() -> None:
    decision = call(policies(), "erp:get_customer_debt")
    assert (decision.effect, decision.rule) == ("deny", "default-deny")
    assert "no rule allows 'erp:get_customer_debt'" in decision.reason


def test_deny_wins_over_allow() -> None:
    decision = call(policies(allow=["erp:*"], deny=["erp:create_*"]), "erp:create_order")
    assert decision.effect == "deny"
    assert decision.rule == "acme:tools.deny[erp:create_*]"


def test_approve_wins_over_allow() -> None:
    decision = call(policies(allow=["erp:*"], approve=["erp:create_order"]), "erp:create_order")
    assert decision.effect == "approve"
    assert decision.rule == "acme:tools.approve[erp:create_order]"


def test_a_deny_in_the_base_policy_binds_the_tenant_whatever_it_allows() -> None:
    base = TenantPolicy(tenant="*", tools=ToolRules(deny=("ocr:*",)))
    own = TenantPolicy(tenant="acme", tools=ToolRules(allow=("*",)))
    decision = call([base, own], "ocr:extract_text")
    assert (decision.effect, decision.rule) == ("deny", "base:tools.deny[ocr:*]")
    assert "the base policy" in decision.reason


def test_another_tenants_policy_grants_nothing() -> None:
    globex = [TenantPolicy(tenant="globex", agents=GlobRules(allow=("*",)), tools=ToolRules(allow=("*",)))]
    assert call(globex, "erp:get_customer_debt").effect == "deny"
    assert decide(ALICE, "use_agent", "debt", None, policies=globex).effect == "deny"
    assert decide(ALICE, "fetch_host", "wiki.globex.internal", None, policies=globex).effect == "deny"


def test_agents_and_models_are_globs_with_deny_first() -> None:
    documents = [
        TenantPolicy(
            tenant="acme",
            agents=GlobRules(allow=("*",), deny=("ocr",)),
            models=GlobRules(allow=("openai:*",), deny=("openai:o1*",)),
        )
    ]
    assert decide(ALICE, "use_agent", "debt", None, policies=documents).allowed
    agent = decide(ALICE, "use_agent", "ocr", None, policies=documents)
    assert (agent.effect, agent.rule) == ("deny", "acme:agents.deny[ocr]")
    assert decide(ALICE, "use_model", "openai:gpt-4o-mini", None, policies=documents).allowed
    assert (
        decide(ALICE, "use_model", "openai:o1-preview", None, policies=documents).rule
        == "acme:models.deny[openai:o1*]"
    )
    model = decide(ALICE, "use_model", "anthropic:claude-sonnet", None, policies=documents)
    assert (model.effect, model.rule) == ("deny", "default-deny")


def test_a_plain_list_of_agents_means_allow() -> None:
    document = TenantPolicy.model_validate({"tenant": "acme", "agents": ["debt", "ship*"]})
    assert document.agents == GlobRules(allow=("debt", "ship*"))


def test_hosts_named_by_a_rule_decide_before_the_address() -> None:
    documents = [
        TenantPolicy(tenant="*", network=NetworkRules(denied_hosts=("metadata.google.internal",))),
        TenantPolicy(
            tenant="acme",
            network=NetworkRules(allowed_hosts=("*.acme.internal",), denied_hosts=("pay.acme.internal",)),
        ),
    ]

    def host(name: str, address: str | None) -> Any:
        return decide(
            ALICE, "fetch_host", name, {"address": address} if address else None, policies=documents
        )

    assert host("Wiki.ACME.internal.", "private").rule == "acme:network.allowed_hosts[*.acme.internal]"
    assert host("pay.acme.internal", "private").effect == "deny"
    assert (
        host("metadata.google.internal", "public").rule
        == "base:network.denied_hosts[metadata.google.internal]"
    )
    assert (host("example.com", "public").effect, host("example.com", "public").rule) == (
        "allow",
        "public-internet",
    )
    assert host("intranet.globex.internal", "private").rule == "default-deny"
    assert host("example.com", None).effect == "deny"


def test_arguments_breaking_a_constraint_are_denied_naming_the_rule() -> None:
    documents = [
        TenantPolicy(
            tenant="acme",
            tools=ToolRules(allow=("erp:*",)),
            arguments={"erp:create_*": {"properties": {"items": {"maxItems": 2}}}},
        )
    ]
    too_many = call(documents, "erp:create_order", {"mst": "3428557611", "items": [{"sku": "A"}] * 3})
    assert too_many.effect == "deny"
    assert too_many.rule == "acme:arguments[erp:create_*]"
    assert "$.items" in too_many.reason and "too long" in too_many.reason
    assert call(documents, "erp:create_order", {"mst": "3428557611", "items": [{"sku": "A"}]}).allowed
    # A tool the constraint's glob does not name is not checked against it.
    assert call(documents, "erp:get_customer_debt", {"items": [1, 2, 3]}).allowed


def test_constraints_of_the_base_and_the_tenant_must_both_hold() -> None:
    documents = [
        TenantPolicy(tenant="*", arguments={"erp:*": {"properties": {"mst": {"pattern": "^[0-9]{10}$"}}}}),
        TenantPolicy(
            tenant="acme",
            tools=ToolRules(allow=("erp:*",)),
            arguments={"erp:get_customer_debt": {"required": ["mst"]}},
        ),
    ]
    assert call(documents, "erp:get_customer_debt", {"mst": "3428557611"}).allowed
    assert call(documents, "erp:get_customer_debt", {"mst": "34-28"}).rule == "base:arguments[erp:*]"
    assert call(documents, "erp:get_customer_debt", {}).rule == "acme:arguments[erp:get_customer_debt]"


def test_constraints_check_formats() -> None:
    documents = [
        TenantPolicy(
            tenant="acme",
            tools=ToolRules(allow=("erp:*",)),
            arguments={"erp:*": {"properties": {"as_of": {"type": "string", "format": "date"}}}},
        )
    ]
    assert call(documents, "erp:get_customer_debt", {"as_of": "2024-09-01"}).allowed
    assert call(documents, "erp:get_customer_debt", {"as_of": "yesterday"}).effect == "deny"


def test_a_large_argument_value_is_not_quoted_in_the_reason() -> None:
    documents = [
        TenantPolicy(
            tenant="acme",
            tools=ToolRules(allow=("rag:*",)),
            arguments={"rag:*": {"properties": {"q": {"maxLength": 10}}}},
        )
    ]
    decision = call(documents, "rag:search", {"q": "x" * 5000})
    assert decision.effect == "deny"
    assert len(decision.reason) < 300
    assert "maxLength" in decision.reason


def test_listing_a_catalog_checks_globs_only() -> None:
    documents = [
        TenantPolicy(
            tenant="acme", tools=ToolRules(allow=("erp:*",)), arguments={"erp:*": {"required": ["mst"]}}
        )
    ]
    assert call(documents, "erp:get_customer_debt").allowed
    assert call(documents, "erp:get_customer_debt", {}).effect == "deny"


def test_arguments_over_the_size_cap_are_denied() -> None:
    documents = [
        TenantPolicy(tenant="*", limits=Limits(max_tool_arguments_bytes=1000)),
        TenantPolicy(
            tenant="acme", tools=ToolRules(allow=("rag:*",)), limits=Limits(max_tool_arguments_bytes=64)
        ),
    ]
    decision = call(documents, "rag:search", {"query": "x" * 100})
    assert (decision.effect, decision.rule) == ("deny", "acme:limits.max_tool_arguments_bytes")
    assert "at most 64" in decision.reason
    assert call(documents, "rag:search", {"query": "short"}).allowed


def test_a_denied_tool_is_denied_by_its_rule_not_by_its_arguments() -> None:
    documents = [
        TenantPolicy(
            tenant="acme", tools=ToolRules(deny=("erp:*",)), arguments={"erp:*": {"required": ["x"]}}
        )
    ]
    assert call(documents, "erp:create_order", {}).rule == "acme:tools.deny[erp:*]"


def test_an_unknown_action_is_denied() -> None:
    decision = decide(ALICE, "delete_tenant", "acme", None, policies=policies(allow=["*"]))  # type: ignore[arg-type]
    assert (decision.effect, decision.rule) == ("deny", "unknown-action")


def test_demo_policies_enable_the_documented_agents_and_tools() -> None:
    demo = PolicySet.from_directory()
    bob = Principal(tenant_id="globex", subject="bob")
    assert demo.decide(bob, "use_agent", "debt").allowed
    assert not demo.decide(bob, "use_agent", "shipment").allowed
    assert demo.decide(bob, "call_tool", "erp:create_order").rule == "globex:tools.deny[erp:create_order]"
    assert demo.decide(ALICE, "call_tool", "erp:create_order").effect == "approve"  # granted to users
    assert demo.decide(ALICE, "use_model", "local").allowed
    assert not demo.decide(bob, "use_model", "anthropic:claude-sonnet-4").allowed
    order = {"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 1}] * 21}
    assert demo.decide(ALICE, "call_tool", "erp:create_order", {"arguments": order}).rule == (
        "acme:arguments[erp:create_order]"
    )


def test_a_plain_user_may_not_call_a_tool_that_changes_data() -> None:
    documents = policies(allow=["rag:*"])
    ingest = decide(ALICE, "call_tool", "rag:ingest_text", {"read_only": False}, policies=documents)
    unknown = decide(ALICE, "call_tool", "rag:delete_document", None, policies=documents)
    assert (ingest.effect, ingest.rule) == ("deny", WRITES_NEED_ADMIN)
    assert "needs the tenant_admin role" in ingest.reason
    assert unknown.rule == WRITES_NEED_ADMIN, "a tool not known to be read-only is taken to change data"
    assert decide(ALICE, "call_tool", "rag:search", {"read_only": True}, policies=documents).allowed
    assert decide(ADA, "call_tool", "rag:ingest_text", None, policies=documents).allowed
    root = Principal(tenant_id="acme", subject="root", roles=["platform_admin"])
    assert decide(root, "call_tool", "rag:ingest_text", None, policies=documents).allowed


def test_a_policy_grants_a_tool_that_changes_data_to_users_by_its_exact_name() -> None:
    documents = policies(allow=["erp:*"], users=["erp:create_order"])
    assert decide(ALICE, "call_tool", "erp:create_order", None, policies=documents).allowed
    assert decide(ALICE, "call_tool", "erp:cancel_order", None, policies=documents).rule == WRITES_NEED_ADMIN
    with pytest.raises(ValidationError, match="users"):
        ToolRules(users=("erp:*",))


def test_a_grant_to_users_does_not_override_a_deny() -> None:
    documents = policies(allow=["erp:*"], deny=["erp:create_order"], users=["erp:create_order"])
    decision = decide(ALICE, "call_tool", "erp:create_order", None, policies=documents)
    assert decision.rule == "acme:tools.deny[erp:create_order]"


def test_an_approve_rule_alone_grants_nothing() -> None:
    base = TenantPolicy(tenant="*", tools=ToolRules(approve=("erp:create_order",)))
    fresh = decide(ADA, "call_tool", "erp:create_order", None, policies=[base])
    assert (fresh.effect, fresh.rule) == ("deny", "default-deny")
    allowed = TenantPolicy(tenant="acme", tools=ToolRules(allow=("erp:*",)))
    assert decide(ADA, "call_tool", "erp:create_order", None, policies=[base, allowed]).effect == "approve"
