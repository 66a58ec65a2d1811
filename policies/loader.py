"""The policies in force: the policy files, with the overrides set through the admin API on top.

`PolicySet` keeps an in-process view so readers (`for_tenant`, `limits`, ...) stay synchronous
and cheap; `refreshing()` keeps that view current by polling the override store's version (one
small query a second) and reloading only when it moved, so an admin change applies on every
replica within about a second, with no restart.

An override replaces, section by section, the tenant's file (`tools`, `limits`, ...); sections it
does not set keep the file's values. The base policy (`tenant: "*"`) comes from its file only and
binds every tenant: its denies cannot be undone by a tenant's policy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import structlog
import yaml
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from agentmesh.errors import AgentmeshError
from agentmesh.redaction import Redactor
from policies.evaluator import applicable_policies, check_arguments, check_roles, decide_by_rules
from policies.limits import Limits, effective_limits
from policies.model import Action, Decision, NetworkRules, Principal, TenantPolicy
from policies.overrides import OverrideSnapshot, PolicyOverrideStore

log = structlog.get_logger(__name__)

T = TypeVar("T")

POLICY_DIR = Path(__file__).parent / "files"
DEFAULT_REFRESH_SECONDS = 1.0


class PolicyFileError(AgentmeshError):
    """A policy file that cannot be read or does not describe a valid policy."""

    code = "invalid_policy_file"


def load_policy_file(path: Path) -> TenantPolicy:
    """One policy document from a YAML file, or a `PolicyFileError` naming the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyFileError(f"policy file {path} cannot be read: {exc}") from exc
    try:
        return TenantPolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'document'}: {error['msg']}" for error in exc.errors()
        )
        raise PolicyFileError(f"policy file {path} is invalid: {problems}") from exc


def load_policy_directory(directory: Path = POLICY_DIR) -> list[TenantPolicy]:
    """Every `*.yaml` policy in `directory`; two files for one tenant are an error."""
    documents: dict[str, tuple[Path, TenantPolicy]] = {}
    for path in sorted(directory.glob("*.yaml")):
        document = load_policy_file(path)
        if document.tenant in documents:
            first = documents[document.tenant][0]
            raise PolicyFileError(f"policy files {first} and {path} are both for tenant '{document.tenant}'")
        documents[document.tenant] = (path, document)
    return [document for _, document in documents.values()]


def merge_override(file: TenantPolicy | None, override: TenantPolicy) -> TenantPolicy:
    """The tenant's policy: each section the override sets replaces the file's."""
    merged: dict[str, Any] = file.model_dump() if file is not None else {}
    merged.update(override.model_dump(include=override.model_fields_set))
    merged["tenant"] = override.tenant
    return TenantPolicy.model_validate(merged)


def response_redactor(policies: Iterable[TenantPolicy]) -> Redactor | None:
    """The redactor for answers under these documents' data rules (None when nothing is redacted)."""
    categories: list[str] = []
    identifiers: dict[str, str] = {}
    for policy in policies:
        categories.extend(policy.data.redact)
        defined = policy.data.identifiers
        identifiers.update({name: defined[name] for name in policy.data.redact if name in defined})
    if not categories:
        return None
    return Redactor(categories, identifiers)


def network_rules(policies: Iterable[TenantPolicy]) -> NetworkRules:
    """The hosts these documents allow and deny together (deny still wins when fetching)."""
    allowed: list[str] = []
    denied: list[str] = []
    for policy in policies:
        allowed.extend(policy.network.allowed_hosts)
        denied.extend(policy.network.denied_hosts)
    return NetworkRules(
        allowed_hosts=tuple(dict.fromkeys(allowed)), denied_hosts=tuple(dict.fromkeys(denied))
    )


class _TenantRules:
    """One tenant's compiled documents and the decisions their rules made so far."""

    MAX_CACHED = 8192

    def __init__(self, documents: list[TenantPolicy], tenant_id: str) -> None:
        self.applicable = applicable_policies(documents, tenant_id)
        self._decisions: dict[tuple[str, str, str | None], Decision] = {}

    def decide(self, action: Action, resource: str, address: str | None) -> Decision:
        key = (action, resource, address)
        decision = self._decisions.get(key)
        if decision is None:
            if len(self._decisions) >= self.MAX_CACHED:
                self._decisions.clear()
            decision = self._decisions[key] = decide_by_rules(self.applicable, action, resource, address)
        return decision


class _View:
    """One consistent picture of every tenant's documents, replaced whole on refresh."""

    def __init__(self, files: Mapping[str, TenantPolicy], snapshot: OverrideSnapshot) -> None:
        self.version = snapshot.version
        self.base = files.get("*")
        own: dict[str, TenantPolicy] = {t: p for t, p in files.items() if t != "*"}
        for tenant, override in snapshot.policies.items():
            own[tenant] = merge_override(own.get(tenant), override)
        for tenant, problem in snapshot.invalid.items():
            # Fail closed: an override we cannot read might have narrowed the file's grants.
            log.error("policy_override_invalid", tenant_id=tenant, problem=problem)
            own[tenant] = TenantPolicy(tenant=tenant)
        base = [self.base] if self.base is not None else []
        self.documents: dict[str, list[TenantPolicy]] = {t: [*base, p] for t, p in own.items()}
        self.base_only = base
        self.derived: dict[tuple[str, str], Any] = {}

    def for_tenant(self, tenant_id: str) -> list[TenantPolicy]:
        return self.documents.get(tenant_id, self.base_only)


class PolicySet:
    """The policies in force for every tenant, readable synchronously, refreshed in the background."""

    def __init__(
        self,
        documents: Iterable[TenantPolicy],
        *,
        overrides: PolicyOverrideStore | None = None,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._files = {document.tenant: document for document in documents}
        self._store = overrides
        self._refresh_seconds = refresh_seconds
        self._view = _View(self._files, OverrideSnapshot(version=0, policies={}, invalid={}))
        self._refresh_failing = False

    @classmethod
    def from_directory(
        cls,
        directory: Path = POLICY_DIR,
        *,
        overrides: PolicyOverrideStore | None = None,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> PolicySet:
        """The policy files in `directory` (the demo tenants' by default), with `overrides` on top."""
        return cls(load_policy_directory(directory), overrides=overrides, refresh_seconds=refresh_seconds)

    @property
    def version(self) -> int:
        """The override version the current view was built from (0: files only)."""
        return self._view.version

    def tenants(self) -> list[str]:
        """Tenants with a policy of their own (from a file or an override)."""
        return sorted(self._view.documents)

    def for_tenant(self, tenant_id: str) -> list[TenantPolicy]:
        """The documents that apply to `tenant_id`: the base policy first, then its own.

        A tenant with no policy of its own gets the base policy alone, which grants nothing
        unless the base does, so everything it asks for is denied by default.
        """
        return list(self._view.for_tenant(tenant_id))

    def tenant_policy(self, tenant_id: str) -> TenantPolicy | None:
        """The tenant's own document after its override is applied (None if it has none)."""
        documents = self._view.documents.get(tenant_id)
        return documents[-1] if documents else None

    def decide(
        self, principal: Principal, action: Action, resource: str, context: Mapping[str, Any] | None = None
    ) -> Decision:
        """`decide` under the principal's tenant's documents, with the decisions the rules over
        names make cached until the policies change (arguments are checked on every call)."""
        tenant_id = principal.tenant_id
        rules = self._derived("rules", tenant_id, lambda documents: _TenantRules(documents, tenant_id))
        by_rules = rules.decide(action, resource, context.get("address") if context else None)
        decision = check_roles(rules.applicable, principal, action, resource, context, by_rules)
        return check_arguments(rules.applicable, action, resource, context, decision)

    def limits(self, tenant_id: str) -> Limits:
        """The tenant's limits in force (tenant over base over platform defaults), cached per version."""
        return self._derived("limits", tenant_id, effective_limits)

    def network_rules(self, tenant_id: str) -> NetworkRules:
        """The hosts the tenant's page fetching may and may not reach."""
        return self._derived("network", tenant_id, network_rules)

    def response_redactor(self, tenant_id: str) -> Redactor | None:
        """What to mask in the tenant's answers under its data rules (None: nothing)."""
        return self._derived("redactor", tenant_id, response_redactor)

    def _derived(self, kind: str, tenant_id: str, build: Callable[[list[TenantPolicy]], T]) -> T:
        view = self._view
        key = (kind, tenant_id)
        if key not in view.derived:
            view.derived[key] = build(view.for_tenant(tenant_id))
        return view.derived[key]

    async def refresh(self) -> bool:
        """Reload the overrides if their version moved; True when the view changed."""
        if self._store is None:
            return False
        if await self._store.version() == self._view.version:
            return False
        snapshot = await self._store.snapshot()
        self._view = _View(self._files, snapshot)
        log.info("policies_refreshed", version=snapshot.version, overrides=len(snapshot.policies))
        return True

    async def keep_fresh(self) -> None:
        """Refresh every `refresh_seconds` until cancelled; a failing database keeps the last view."""
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except SQLAlchemyError as exc:
                if not self._refresh_failing:
                    log.warning("policies_refresh_failed", error=type(exc).__name__, version=self.version)
                self._refresh_failing = True
            else:
                if self._refresh_failing:
                    log.info("policies_refresh_recovered", version=self.version)
                self._refresh_failing = False

    @contextlib.asynccontextmanager
    async def refreshing(self) -> AsyncIterator[PolicySet]:
        """Load the overrides now, then keep them fresh in the background while the block runs."""
        if self._store is None:
            yield self
            return
        await self.refresh()
        task = asyncio.create_task(self.keep_fresh(), name="policy-refresh")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
