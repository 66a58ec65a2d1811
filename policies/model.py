"""The policy model: what each tenant may use, as pydantic models loaded from YAML or the database.

A `TenantPolicy` is one document: the base policy (`tenant: "*"`, binding every tenant) or one
tenant's. It names agents, tools (`server:tool`), models (`provider:model`) and hosts with
shell-style globs; constrains tool arguments with JSON Schema fragments; sets limits; says which
personal data to redact from answers; and which hosts page fetching may or may not reach.
Documents are immutable values: change a policy by building a new document.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from agentmesh.redaction import BUILT_IN_CATEGORIES, IDENTIFIER_NAME
from policies.limits import Limits

Effect = Literal["allow", "deny", "approve"]
Action = Literal["use_agent", "call_tool", "use_model", "fetch_host"]

Glob = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256, pattern=r"^[^\s]+$")
]
HostGlob = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=253, pattern=r"^[^\s/]+$"
    ),
]
TenantId = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,63})$")]


class GlobRules(BaseModel):
    """Allowed and denied names. A plain list in YAML means `allow`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: tuple[Glob, ...] = ()
    deny: tuple[Glob, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _list_means_allow(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {"allow": value}
        return value


ToolName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=256, pattern=r"^[a-z][a-z0-9-]*:[A-Za-z0-9_.-]+$"),
]
"""One tool by its exact `server:tool` name (no glob: a grant to users names what it grants)."""


class ToolRules(GlobRules):
    """Globs over `server:tool`. Deny wins; a tool some allow rule matches is allowed, each call
    after a human approval when an approve rule matches it too; a tool no allow rule matches is
    denied (an approve rule narrows a grant, it never makes one).

    Tools that change data (not annotated read-only) are for tenant admins; `users` names those a
    tenant's plain users may call too."""

    approve: tuple[Glob, ...] = ()
    users: tuple[ToolName, ...] = Field(
        default=(), description="tools that change data which plain users may call (exact names)"
    )


class NetworkRules(BaseModel):
    """Hosts page fetching may reach beyond the public internet, and hosts it may never reach."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_hosts: tuple[HostGlob, ...] = Field(
        default=(), description="globs of hosts allowed even on private addresses (an intranet wiki)"
    )
    denied_hosts: tuple[HostGlob, ...] = Field(default=(), description="globs of hosts never fetched")


class DataRules(BaseModel):
    """Personal data to redact from this tenant's answers: built-in categories and named patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    redact: tuple[str, ...] = Field(
        default=(), description="categories to redact: email, phone, card, vn_id, or an identifier below"
    )
    identifiers: dict[str, str] = Field(
        default_factory=dict, description="extra identifiers by name, as regular expressions"
    )

    @field_validator("identifiers")
    @classmethod
    def _patterns_compile(cls, identifiers: dict[str, str]) -> dict[str, str]:
        for name, pattern in identifiers.items():
            if not re.fullmatch(IDENTIFIER_NAME, name) or name in BUILT_IN_CATEGORIES:
                raise ValueError(
                    f"identifier name '{name}' must be lower-case letters, digits and '_' "
                    f"and not one of {', '.join(BUILT_IN_CATEGORIES)}"
                )
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"identifier '{name}' is not a valid regular expression: {exc}") from exc
            if compiled.match(""):
                raise ValueError(f"identifier '{name}' matches the empty string")
        return identifiers

    @model_validator(mode="after")
    def _categories_known(self) -> DataRules:
        known = {*BUILT_IN_CATEGORIES, *self.identifiers}
        unknown = [category for category in self.redact if category not in known]
        if unknown:
            raise ValueError(
                f"unknown redaction categories {unknown}: use {', '.join(BUILT_IN_CATEGORIES)} "
                "or a name defined under identifiers"
            )
        return self


class TenantPolicy(BaseModel):
    """One policy document: the base policy (`tenant: "*"`) or one tenant's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: TenantId
    agents: GlobRules = Field(default_factory=GlobRules, description="agents the tenant may use")
    tools: ToolRules = Field(default_factory=ToolRules)
    arguments: dict[Glob, dict[str, Any]] = Field(
        default_factory=dict,
        description="JSON Schema fragments the arguments of matching tools must satisfy, by tool glob",
    )
    limits: Limits = Field(default_factory=Limits)
    models: GlobRules = Field(default_factory=GlobRules, description="`provider:model` globs")
    data: DataRules = Field(default_factory=DataRules)
    network: NetworkRules = Field(default_factory=NetworkRules)

    @field_validator("arguments")
    @classmethod
    def _schemas_valid(cls, arguments: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for pattern, schema in arguments.items():
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise ValueError(
                    f"argument constraint for '{pattern}' is not valid JSON Schema: {exc.message}"
                ) from exc
        return arguments

    @property
    def label(self) -> str:
        """How rules of this document are named: `base` or the tenant id."""
        return "base" if self.tenant == "*" else self.tenant


ADMIN_ROLES = frozenset({"tenant_admin", "platform_admin"})
"""Roles that may call a tenant's tools that change data."""


class Principal(BaseModel):
    """Who asks: a user of a tenant with roles."""

    tenant_id: str
    subject: str
    roles: list[str] = Field(default_factory=lambda: ["user"])

    @property
    def is_admin(self) -> bool:
        return bool(ADMIN_ROLES & set(self.roles))


class Decision(BaseModel):
    """The outcome of `decide`, with the rule that made it, for the audit log."""

    model_config = ConfigDict(frozen=True)

    effect: Effect
    rule: str
    reason: str

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"
