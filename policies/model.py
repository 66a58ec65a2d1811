"""The policy model: what each tenant may use, as pydantic models loaded from YAML."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Effect = Literal["allow", "deny", "approve"]
Action = Literal["use_agent", "call_tool"]


class ToolRules(BaseModel):
    """Globs over `server:tool`. Deny wins over approve, approve over allow; no match denies."""

    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    approve: list[str] = Field(default_factory=list)


class TenantPolicy(BaseModel):
    """One policy document: the base policy (`tenant: "*"`) or one tenant's."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    agents: list[str] = Field(default_factory=list, description="agents the tenant may use ('*' for all)")
    tools: ToolRules = Field(default_factory=ToolRules)


class Principal(BaseModel):
    """Who asks: a user of a tenant with roles."""

    tenant_id: str
    subject: str
    roles: list[str] = Field(default_factory=lambda: ["user"])


class Decision(BaseModel):
    """The outcome of `decide`, with the rule that made it, for the audit log."""

    effect: Effect
    rule: str
    reason: str

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"
