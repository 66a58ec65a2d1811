"""Loading policy documents: the base policy plus one file per tenant."""

from __future__ import annotations

from pathlib import Path

import yaml

from policies.model import TenantPolicy

POLICY_DIR = Path(__file__).parent / "files"


class PolicyNotFound(LookupError):
    """The tenant has no policy: nothing is allowed."""


class PolicySet:
    """The loaded policy documents, by tenant (the base policy under '*')."""

    def __init__(self, documents: list[TenantPolicy]) -> None:
        self._by_tenant = {document.tenant: document for document in documents}

    @classmethod
    def from_directory(cls, directory: Path = POLICY_DIR) -> PolicySet:
        documents = [
            TenantPolicy.model_validate(yaml.safe_load(path.read_text()))
            for path in sorted(directory.glob("*.yaml"))
        ]
        return cls(documents)

    def tenants(self) -> list[str]:
        return sorted(t for t in self._by_tenant if t != "*")

    def for_tenant(self, tenant_id: str) -> list[TenantPolicy]:
        """The documents that apply to `tenant_id`: the base policy first, then its own."""
        own = self._by_tenant.get(tenant_id)
        if own is None:
            raise PolicyNotFound(tenant_id)
        base = self._by_tenant.get("*")
        return [base, own] if base else [own]
