"""Tenant policies set at run time (through the admin API), stored in the platform database.

An override is a tenant's policy document holding only the sections an admin set (`tools`,
`limits`, ...); `PolicySet` lays each set section over the tenant's policy file. Every read and
write names its tenant explicitly and a document may only be stored under its own tenant, so a
caller authorised for one tenant can never touch another's. Each write bumps one version counter
in the same transaction, which is all a replica reads to notice a change, and is audited in that
transaction too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.tenant_rows import TenantRows, delete_declared
from policies.audit import AuditEvent, arguments_hash, audit_row
from policies.model import TenantPolicy
from policies.tables import PolicyOverrideRow, PolicyOverrideVersionRow

VERSION_ROW_ID = 1
"""The id of the one `policy_override_versions` row (the migrations create it)."""
SYSTEM_PRINCIPAL = "system"


class InvalidOverride(AgentmeshError):
    """An override that cannot be stored (wrong tenant, the base policy)."""

    code = "invalid_policy_override"


class OverrideSnapshot(BaseModel):
    """Every override at one version, for `PolicySet` to rebuild its in-process view."""

    version: int
    policies: dict[str, TenantPolicy]
    invalid: dict[str, str]


class PolicyOverrideStore:
    """Reads and writes one tenant's override at a time."""

    TENANT_ROWS = (TenantRows("policy_overrides"),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's override in `db`'s transaction; every replica reloads its policies."""
        removed = await delete_declared(db, self.TENANT_ROWS, tenant_id)
        if any(removed.values()):
            await _bump_version(db)
        return removed

    async def get(self, tenant_id: str) -> TenantPolicy | None:
        """The override of `tenant_id`, holding only the sections that were set, or None."""
        async with self._sessions() as db:
            row = await db.get(PolicyOverrideRow, tenant_id)
        return TenantPolicy.model_validate(row.document) if row is not None else None

    async def put(
        self, tenant_id: str, policy: TenantPolicy, *, changed_by: str | None = None
    ) -> TenantPolicy:
        """Store `policy` as the override of `tenant_id` (replacing any previous one).

        Only the sections set on `policy` (its `model_fields_set`) are kept, so an override of
        `limits` alone leaves the file's agents and tools in force.
        """
        _check_tenant(tenant_id, policy)
        document = policy.model_dump(mode="json", exclude_unset=True)
        document["tenant"] = tenant_id
        async with self._sessions() as db, db.begin():
            version = await _bump_version(db)
            row = await db.get(PolicyOverrideRow, tenant_id)
            if row is None:
                row = PolicyOverrideRow(tenant_id=tenant_id)
                db.add(row)
            row.document = document
            row.version = version
            row.updated_at = datetime.now(UTC)
            row.updated_by = changed_by or SYSTEM_PRINCIPAL
            db.add(
                audit_row(
                    AuditEvent(
                        tenant_id=tenant_id,
                        principal=changed_by or SYSTEM_PRINCIPAL,
                        action="admin.policy.put",
                        resource=f"policy:{tenant_id}",
                        effect="ok",
                        arguments_hash=arguments_hash(document),
                        detail={"sections": sorted(set(document) - {"tenant"}), "version": version},
                    )
                )
            )
        return TenantPolicy.model_validate(document)

    async def delete(self, tenant_id: str, *, changed_by: str | None = None) -> bool:
        """Remove the override of `tenant_id` (its policy file applies again); False if none."""
        async with self._sessions() as db, db.begin():
            row = await db.get(PolicyOverrideRow, tenant_id)
            if row is None:
                return False
            await db.delete(row)
            version = await _bump_version(db)
            db.add(
                audit_row(
                    AuditEvent(
                        tenant_id=tenant_id,
                        principal=changed_by or SYSTEM_PRINCIPAL,
                        action="admin.policy.delete",
                        resource=f"policy:{tenant_id}",
                        effect="ok",
                        detail={"version": version},
                    )
                )
            )
        return True

    async def version(self) -> int:
        """The number of override writes so far (0 before the first); cheap enough to poll."""
        async with self._sessions() as db:
            value = await db.scalar(
                select(PolicyOverrideVersionRow.version).where(PolicyOverrideVersionRow.id == VERSION_ROW_ID)
            )
        return int(value or 0)

    async def snapshot(self) -> OverrideSnapshot:
        """All overrides with the version they were read at (for the in-process `PolicySet` only).

        A stored document that no longer validates is reported under `invalid`, not raised: one
        bad row must not stop every tenant's policy from refreshing.
        """
        version = await self.version()
        async with self._sessions() as db:
            rows = (await db.execute(select(PolicyOverrideRow))).scalars().all()
        policies: dict[str, TenantPolicy] = {}
        invalid: dict[str, str] = {}
        for row in rows:
            try:
                policies[row.tenant_id] = TenantPolicy.model_validate(row.document)
            except ValueError as exc:
                invalid[row.tenant_id] = str(exc)
        return OverrideSnapshot(version=version, policies=policies, invalid=invalid)


def _check_tenant(tenant_id: str, policy: TenantPolicy) -> None:
    if tenant_id == "*":
        raise InvalidOverride("the base policy is set in its file (policies/files/base.yaml), not overridden")
    if policy.tenant != tenant_id:
        raise InvalidOverride(
            f"the policy names tenant '{policy.tenant}' but is being stored for tenant '{tenant_id}'",
            details={"problems": [{"field": "tenant", "problem": "must be the tenant it is stored for"}]},
        )


async def _bump_version(db: AsyncSession) -> int:
    """Increment the version counter inside the caller's transaction and return the new value."""
    bumped = await db.execute(
        update(PolicyOverrideVersionRow)
        .where(PolicyOverrideVersionRow.id == VERSION_ROW_ID)
        .values(version=PolicyOverrideVersionRow.version + 1)
        .returning(PolicyOverrideVersionRow.version)
    )
    return int(bumped.scalar_one())
