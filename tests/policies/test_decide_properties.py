"""Properties of `decide` over generated policies: deny wins, nothing matched denies, and only the
base policy and the principal's own tenant count. The expected answers come from a plain
`fnmatchcase` reading of the documents, independent of the compiled globs."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.evaluator import WRITES_NEED_ADMIN, decide
from policies.loader import PolicySet
from policies.model import GlobRules, NetworkRules, Principal, TenantPolicy, ToolRules

TENANTS = ["acme", "globex", "initech"]
SERVERS = ["erp", "rag", "ocr"]
TOOLS = ["get_customer_debt", "create_order", "search", "list_documents"]

tool_names = st.builds(lambda s, t: f"{s}:{t}", st.sampled_from(SERVERS), st.sampled_from(TOOLS))
tool_globs = st.one_of(
    tool_names,
    st.sampled_from([f"{s}:*" for s in SERVERS]),
    st.sampled_from(["*", "*:create_*", "*:search", "?rp:*", "[er]*:get_*", "erp:[!c]*"]),
)
glob_lists = st.lists(tool_globs, max_size=3).map(tuple)
tenant_ids = st.sampled_from(["*", *TENANTS])


@st.composite
def documents(draw: st.DrawFn) -> list[TenantPolicy]:
    return draw(
        st.lists(
            st.builds(
                lambda tenant, allow, deny, approve, agents_allow, agents_deny: TenantPolicy(
                    tenant=tenant,
                    tools=ToolRules(allow=allow, deny=deny, approve=approve),
                    agents=GlobRules(allow=agents_allow, deny=agents_deny),
                    network=NetworkRules(allowed_hosts=agents_allow, denied_hosts=agents_deny),
                ),
                tenant_ids,
                glob_lists,
                glob_lists,
                glob_lists,
                glob_lists,
                glob_lists,
            ),
            max_size=4,
        )
    )


def _applicable(docs: list[TenantPolicy], tenant: str) -> list[TenantPolicy]:
    return [d for d in docs if d.tenant in ("*", tenant)]


def _any(patterns: list[str], name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


@settings(max_examples=200, deadline=None)
@given(docs=documents(), tenant=st.sampled_from(TENANTS), tool=tool_names)
def test_tool_decisions_follow_deny_then_allow_and_an_approve_rule_narrows_a_grant(
    docs: list[TenantPolicy], tenant: str, tool: str
) -> None:
    mine = _applicable(docs, tenant)
    denies = [p for d in mine for p in d.tools.deny]
    approves = [p for d in mine for p in d.tools.approve]
    allows = [p for d in mine for p in d.tools.allow]
    admin = Principal(tenant_id=tenant, subject="u", roles=["tenant_admin"])
    decision = decide(admin, "call_tool", tool, None, policies=docs)
    if _any(denies, tool):
        assert decision.effect == "deny"
        assert ":tools.deny[" in decision.rule
    elif _any(allows, tool):
        assert decision.effect == ("approve" if _any(approves, tool) else "allow")
    else:  # an approve rule alone grants nothing
        assert (decision.effect, decision.rule) == ("deny", "default-deny")


@settings(max_examples=200, deadline=None)
@given(
    docs=documents(),
    tenant=st.sampled_from(TENANTS),
    tool=tool_names,
    read_only=st.booleans(),
    granted_in=st.sampled_from([None, "*", "own", "other"]),
)
def test_a_plain_user_calls_a_tool_that_changes_data_only_when_a_policy_names_it(
    docs: list[TenantPolicy], tenant: str, tool: str, read_only: bool, granted_in: str | None
) -> None:
    owner = {"*": "*", "own": tenant, "other": next(t for t in TENANTS if t != tenant)}.get(granted_in or "")
    if owner is not None:
        docs = [*docs, TenantPolicy(tenant=owner, tools=ToolRules(users=(tool,)))]
    context = {"read_only": read_only}
    admin = decide(
        Principal(tenant_id=tenant, subject="a", roles=["tenant_admin"]),
        "call_tool",
        tool,
        context,
        policies=docs,
    )
    user = decide(Principal(tenant_id=tenant, subject="u"), "call_tool", tool, context, policies=docs)
    if admin.effect == "deny" or read_only or granted_in in ("*", "own"):
        assert user == admin
    else:
        assert (user.effect, user.rule) == ("deny", WRITES_NEED_ADMIN)


@settings(max_examples=150, deadline=None)
@given(docs=documents(), tenant=st.sampled_from(TENANTS), tool=tool_names, extra_deny=tool_globs)
def test_adding_a_matching_deny_anywhere_applicable_always_denies(
    docs: list[TenantPolicy], tenant: str, tool: str, extra_deny: str
) -> None:
    principal = Principal(tenant_id=tenant, subject="u")
    for owner in ("*", tenant):
        with_deny = [*docs, TenantPolicy(tenant=owner, tools=ToolRules(deny=(extra_deny,)))]
        decision = decide(principal, "call_tool", tool, None, policies=with_deny)
        if fnmatchcase(tool, extra_deny):
            assert decision.effect == "deny"
        else:
            assert decision == decide(principal, "call_tool", tool, None, policies=docs)


@settings(max_examples=150, deadline=None)
@given(docs=documents(), tenant=st.sampled_from(TENANTS), tool=tool_names)
def test_other_tenants_documents_change_nothing(docs: list[TenantPolicy], tenant: str, tool: str) -> None:
    principal = Principal(tenant_id=tenant, subject="u")
    for action in ("call_tool", "use_agent", "fetch_host"):
        everything = decide(principal, action, tool, None, policies=docs)
        own_only = decide(principal, action, tool, None, policies=_applicable(docs, tenant))
        assert everything == own_only


@settings(max_examples=150, deadline=None)
@given(docs=documents(), tenant=st.sampled_from(TENANTS), name=tool_names)
def test_agents_and_hosts_deny_wins_and_nothing_matched_denies(
    docs: list[TenantPolicy], tenant: str, name: str
) -> None:
    # The generated documents reuse one pair of glob lists for agents and for hosts.
    mine = _applicable(docs, tenant)
    denies = [p for d in mine for p in d.agents.deny]
    allows = [p for d in mine for p in d.agents.allow]
    principal = Principal(tenant_id=tenant, subject="u")
    for action in ("use_agent", "fetch_host"):
        decision = decide(principal, action, name, {"address": "private"}, policies=docs)
        if _any(denies, name):
            assert decision.effect == "deny" and decision.rule != "default-deny"
        elif _any(allows, name):
            assert decision.effect == "allow"
        else:
            assert (decision.effect, decision.rule) == ("deny", "default-deny")


@settings(max_examples=200, deadline=None)
@given(tenant=st.sampled_from(TENANTS), tool=tool_names)
def test_no_documents_deny_everything(tenant: str, tool: str) -> None:
    principal = Principal(tenant_id=tenant, subject="u")
    for action in ("call_tool", "use_agent", "use_model", "fetch_host"):
        decision = decide(principal, action, tool, None, policies=[])
        assert (decision.effect, decision.rule) == ("deny", "default-deny")


@settings(max_examples=200, deadline=None)
@given(
    docs=documents(),
    tenant=st.sampled_from(TENANTS),
    name=tool_names,
    address=st.sampled_from([None, "public"]),
)
def test_the_policy_sets_cached_decisions_equal_decide(
    docs: list[TenantPolicy], tenant: str, name: str, address: str | None
) -> None:
    policy_set = PolicySet(docs)
    principal = Principal(tenant_id=tenant, subject="u")
    for action in ("call_tool", "use_agent", "use_model", "fetch_host"):
        context = {"address": address}
        expected = decide(principal, action, name, context, policies=policy_set.for_tenant(tenant))
        assert policy_set.decide(principal, action, name, context) == expected
        assert policy_set.decide(principal, action, name, context) == expected
