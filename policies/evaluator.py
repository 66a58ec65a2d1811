"""The one decision function used by the host, the gateway and the servers alike.

`decide(principal, action, resource, context, policies=...)` answers four questions:

- `use_agent` (resource: agent name) and `use_model` (resource: `provider:model`): deny globs,
  then allow globs;
- `call_tool` (resource: `server:tool`, context `{"read_only": bool, "arguments": {...}}`): deny
  globs, then allow globs, an allowed tool matched by an approve glob needing a person's approval
  (approve narrows a grant and never makes one: a tenant with no policy of its own can call
  nothing); a tool that changes data (`read_only` not true: tools say so in their MCP
  annotations) is then denied to a principal without the `tenant_admin` or `platform_admin`
  role unless a `tools.users` entry names it; a granted call must also satisfy every argument
  constraint (JSON Schema) whose glob matches the tool and the argument size cap. Without
  arguments in the context (listing a catalog) only the globs and the roles decide;
- `fetch_host` (resource: host name, context `{"address": "public" | "private"}`): denied hosts,
  then allowed hosts; a host no rule names may be fetched only on a public address.

Deny wins over everything, in any document; nothing matched denies. Only the base policy
(`tenant: "*"`) and the principal's own tenant's documents count, whatever else is passed.

Why globs and not Cedar or CEL: every rule here is "this effect for these names", one resource
string per action, and deny-wins over unions is three loops. Cedar's permit/forbid has no third
"approve" effect (it would take a second policy set), and the only attribute conditions we have
are on tool arguments, which JSON Schema already describes better than either language (tools
declare their inputs in it). Globs keep the YAML readable by the tenant admins who write it, and
compiled into one regex per list they decide in a few microseconds with no native dependency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from policies.globs import GlobSet
from policies.model import Action, Decision, Principal, TenantPolicy

WRITES_NEED_ADMIN = "roles:writes-need-admin"
"""The rule denying a plain user a tool that changes data."""
_REASON_DETAIL_CHARS = 200
_COMPILED_CACHE_SIZE = 4096
_FORMATS = Draft202012Validator.FORMAT_CHECKER


@dataclass(frozen=True, slots=True)
class _ArgumentConstraint:
    pattern: str
    matcher: GlobSet
    validator: Draft202012Validator


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy document's globs and schemas, compiled once for fast decisions."""

    document: TenantPolicy
    agents_allow: GlobSet
    agents_deny: GlobSet
    models_allow: GlobSet
    models_deny: GlobSet
    tools: dict[str, GlobSet]
    arguments: tuple[_ArgumentConstraint, ...]
    hosts_allowed: GlobSet
    hosts_denied: GlobSet


# Keyed by id() with the document kept alive in the value, so an id is never reused while cached.
_compiled: dict[int, CompiledPolicy] = {}


def compiled(document: TenantPolicy) -> CompiledPolicy:
    """The compiled form of `document` (built on first use, then cached)."""
    entry = _compiled.get(id(document))
    if entry is not None and entry.document is document:
        return entry
    entry = CompiledPolicy(
        document=document,
        agents_allow=GlobSet(document.agents.allow),
        agents_deny=GlobSet(document.agents.deny),
        models_allow=GlobSet(document.models.allow),
        models_deny=GlobSet(document.models.deny),
        tools={
            "deny": GlobSet(document.tools.deny),
            "approve": GlobSet(document.tools.approve),
            "allow": GlobSet(document.tools.allow),
        },
        arguments=tuple(
            _ArgumentConstraint(
                pattern, GlobSet([pattern]), Draft202012Validator(schema, format_checker=_FORMATS)
            )
            for pattern, schema in document.arguments.items()
        ),
        hosts_allowed=GlobSet(document.network.allowed_hosts),
        hosts_denied=GlobSet(document.network.denied_hosts),
    )
    if len(_compiled) >= _COMPILED_CACHE_SIZE:
        _compiled.pop(next(iter(_compiled)))
    _compiled[id(document)] = entry
    return entry


def decide(
    principal: Principal,
    action: Action,
    resource: str,
    context: Mapping[str, Any] | None,
    *,
    policies: Sequence[TenantPolicy],
) -> Decision:
    """Decide whether `principal` may perform `action` on `resource`.

    `policies` are the documents that apply to the principal's tenant (the base policy and the
    tenant's own, as `PolicySet.for_tenant` returns them). Deny wins; nothing matched denies.
    """
    applicable = applicable_policies(policies, principal.tenant_id)
    decision = decide_by_rules(applicable, action, resource, _address(context))
    decision = check_roles(applicable, principal, action, resource, context, decision)
    return check_arguments(applicable, action, resource, context, decision)


def applicable_policies(policies: Sequence[TenantPolicy], tenant_id: str) -> tuple[CompiledPolicy, ...]:
    """The compiled documents among `policies` that bind `tenant_id`: the base and its own."""
    return tuple(compiled(p) for p in policies if p.tenant == "*" or p.tenant == tenant_id)


def decide_by_rules(
    applicable: Sequence[CompiledPolicy], action: Action, resource: str, address: str | None
) -> Decision:
    """The decision the rules over names make, before any argument is looked at.

    It depends only on its inputs, so a caller holding fixed documents may cache it.
    """
    if action == "call_tool":
        return _decide_tool(applicable, resource)
    if action == "use_agent":
        return _decide_named(applicable, "agent", "agents", resource)
    if action == "use_model":
        return _decide_named(applicable, "model", "models", resource)
    if action == "fetch_host":
        return _decide_host(applicable, resource, address)
    return Decision(
        effect="deny", rule="unknown-action", reason=f"'{action}' is not an action policies decide"
    )


def check_roles(
    applicable: Sequence[CompiledPolicy],
    principal: Principal,
    action: Action,
    resource: str,
    context: Mapping[str, Any] | None,
    by_rules: Decision,
) -> Decision:
    """`by_rules`, unless it grants a plain user a tool that changes data and no policy names it
    in `tools.users`. A tool is read-only only when the context says so."""
    if action != "call_tool" or by_rules.effect == "deny" or principal.is_admin:
        return by_rules
    if context is not None and context.get("read_only") is True:
        return by_rules
    if any(resource in policy.document.tools.users for policy in applicable):
        return by_rules
    return Decision(
        effect="deny",
        rule=WRITES_NEED_ADMIN,
        reason=(
            f"'{resource}' changes data: it needs the tenant_admin role, or the tenant's policy "
            "granting it to users by name (tools.users)"
        ),
    )


def check_arguments(
    applicable: Sequence[CompiledPolicy],
    action: Action,
    resource: str,
    context: Mapping[str, Any] | None,
    by_rules: Decision,
) -> Decision:
    """`by_rules`, unless it grants a tool call whose arguments break a constraint or the size cap.

    Without arguments in `context` (listing a catalog) there is nothing to check.
    """
    if action != "call_tool" or by_rules.effect == "deny" or not context:
        return by_rules
    arguments = context.get("arguments")
    if arguments is None:
        return by_rules
    return _argument_violation(applicable, resource, arguments) or by_rules


def _address(context: Mapping[str, Any] | None) -> str | None:
    return context.get("address") if context else None


def _decide_named(applicable: Sequence[CompiledPolicy], noun: str, section: str, name: str) -> Decision:
    for policy in applicable:
        pattern = getattr(policy, f"{section}_deny").first_match(name)
        if pattern is not None:
            return _matched("deny", policy, f"{section}.deny", pattern, f"{noun} '{name}' is denied")
    for policy in applicable:
        pattern = getattr(policy, f"{section}_allow").first_match(name)
        if pattern is not None:
            return _matched("allow", policy, f"{section}.allow", pattern, f"{noun} '{name}' is enabled")
    return Decision(
        effect="deny", rule="default-deny", reason=f"{noun} '{name}' is not enabled for this tenant"
    )


_TOOL_VERBS = {"deny": "is denied", "approve": "needs a human approval", "allow": "is allowed"}


def _decide_tool(applicable: Sequence[CompiledPolicy], tool: str) -> Decision:
    for effect in ("deny", "allow"):
        for policy in applicable:
            pattern = policy.tools[effect].first_match(tool)
            if pattern is None:
                continue
            if effect == "deny":
                return _matched(effect, policy, "tools.deny", pattern, f"'{tool}' {_TOOL_VERBS[effect]}")
            return _approval_needed(applicable, tool) or _matched(
                effect, policy, "tools.allow", pattern, f"'{tool}' {_TOOL_VERBS[effect]}"
            )
    return Decision(effect="deny", rule="default-deny", reason=f"no rule allows '{tool}'")


def _approval_needed(applicable: Sequence[CompiledPolicy], tool: str) -> Decision | None:
    for policy in applicable:
        pattern = policy.tools["approve"].first_match(tool)
        if pattern is not None:
            return _matched("approve", policy, "tools.approve", pattern, f"'{tool}' {_TOOL_VERBS['approve']}")
    return None


def _argument_violation(
    applicable: Sequence[CompiledPolicy], tool: str, arguments: Mapping[str, Any]
) -> Decision | None:
    cap = _arguments_cap(applicable)
    if cap is not None:
        size = len(json.dumps(arguments, separators=(",", ":"), ensure_ascii=False, default=str).encode())
        if size > cap[1]:
            return Decision(
                effect="deny",
                rule=f"{cap[0].document.label}:limits.max_tool_arguments_bytes",
                reason=f"arguments for '{tool}' are {size} bytes; at most {cap[1]} are accepted",
            )
    for policy in applicable:
        for constraint in policy.arguments:
            if constraint.matcher.first_match(tool) is None:
                continue
            error = best_match(constraint.validator.iter_errors(arguments))
            if error is not None:
                where = error.json_path if error.json_path != "$" else "arguments"
                return Decision(
                    effect="deny",
                    rule=f"{policy.document.label}:arguments[{constraint.pattern}]",
                    reason=(
                        f"arguments for '{tool}' break the constraint of {_owner(policy)}: "
                        f"{where}: {_describe(error)}"
                    ),
                )
    return None


def _arguments_cap(applicable: Sequence[CompiledPolicy]) -> tuple[CompiledPolicy, int] | None:
    """The argument size cap in force (tenant over base) and the document that set it."""
    found: tuple[CompiledPolicy, int] | None = None
    for policy in sorted(applicable, key=lambda p: p.document.tenant != "*"):
        value = policy.document.limits.max_tool_arguments_bytes
        if value is not None:
            found = (policy, value)
    return found


def _decide_host(applicable: Sequence[CompiledPolicy], host: str, address: str | None) -> Decision:
    name = host.strip().lower().rstrip(".")
    for policy in applicable:
        pattern = policy.hosts_denied.first_match(name)
        if pattern is not None:
            return _matched("deny", policy, "network.denied_hosts", pattern, f"host '{name}' is denied")
    for policy in applicable:
        pattern = policy.hosts_allowed.first_match(name)
        if pattern is not None:
            return _matched("allow", policy, "network.allowed_hosts", pattern, f"host '{name}' is allowed")
    if address == "public":
        return Decision(
            effect="allow", rule="public-internet", reason=f"host '{name}' is on the public internet"
        )
    return Decision(
        effect="deny",
        rule="default-deny",
        reason=f"host '{name}' is not on the public internet and no rule allows it",
    )


def _matched(effect: str, policy: CompiledPolicy, section: str, pattern: str, what: str) -> Decision:
    return Decision(
        effect=effect,  # type: ignore[arg-type]
        rule=f"{policy.document.label}:{section}[{pattern}]",
        reason=f"{what} by rule '{pattern}' of {_owner(policy)}",
    )


def _owner(policy: CompiledPolicy) -> str:
    tenant = policy.document.tenant
    return "the base policy" if tenant == "*" else f"{tenant}'s policy"


def _describe(error: ValidationError) -> str:
    """jsonschema's message, or the broken keyword when the message would quote a large value."""
    if len(error.message) <= _REASON_DETAIL_CHARS:
        return error.message
    keyword = json.dumps(error.validator_value, default=str)
    if len(keyword) > _REASON_DETAIL_CHARS:
        keyword = keyword[: _REASON_DETAIL_CHARS - 1] + "…"
    return f"does not satisfy {error.validator}: {keyword}"
