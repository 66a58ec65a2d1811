"""Per-tenant network rules: which hosts a tenant may fetch beyond the public internet.

`allowed_hosts` lets a tenant reach named hosts on private addresses (an intranet wiki, a test
server on loopback); `denied_hosts` keeps a tenant away from hosts even on the public internet.
Both are shell-style globs matched against the URL's host name. Deny wins over allow.

A tenant's rules are the `network` section of its policy (the policy files with the overrides
set through the admin API, refreshed while the server runs: `PolicyNetworkRules`), joined with
an optional operator file named by `AGENTMESH_SEARCH_NETWORK_RULES_FILE`:

    tenants:
      acme:
        allowed_hosts: ["wiki.acme.internal", "127.0.0.1"]
        denied_hosts: ["*.example.org"]
"""

from __future__ import annotations

import fnmatch
import threading
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentmesh.addresses import IPAddress
from agentmesh.outbound import Target
from mcp_servers.search.errors import NetworkRulesUnavailable
from policies.loader import PolicySet


class NetworkRules(BaseModel):
    """The hosts one tenant may reach beyond the public internet, and those it may never reach."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_hosts: tuple[str, ...] = Field(default=(), description="globs of hosts allowed on any address")
    denied_hosts: tuple[str, ...] = Field(default=(), description="globs of hosts never fetched")

    @field_validator("allowed_hosts", "denied_hosts")
    @classmethod
    def _normalise(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(pattern.strip().lower().rstrip(".") for pattern in patterns)
        if any(not pattern for pattern in cleaned):
            raise ValueError("host patterns must not be empty")
        return cleaned

    def denial(self, *hosts: str) -> str | None:
        """The denied-host pattern matching any of `hosts` (a name and its IP form), if any."""
        return _first_match(self.denied_hosts, hosts)

    def allowance(self, *hosts: str) -> str | None:
        """The allowed-host pattern matching any of `hosts`, unless a denied pattern also matches."""
        if self.denial(*hosts):
            return None
        return _first_match(self.allowed_hosts, hosts)


class TenantReach:
    """One tenant's network rules as the outbound guard applies them to the pages it fetches.

    The platform's own allow list does not apply here: pages are fetched on a user's (or a
    model's) say-so, so only the tenant's rules open anything beyond the public internet.
    """

    source = "this tenant's network rules"
    remedy = "only public addresses are fetched unless this tenant's network rules allow the host"

    def __init__(self, rules: NetworkRules) -> None:
        self.rules = rules

    def denial(self, target: Target) -> str | None:
        return self.rules.denial(*target.names)

    def allowance(self, target: Target) -> str | None:
        return self.rules.allowance(*target.names)

    def address_allowance(self, address: IPAddress, target: Target) -> str | None:
        return None


def _first_match(patterns: tuple[str, ...], hosts: tuple[str, ...]) -> str | None:
    for pattern in patterns:
        for host in hosts:
            if fnmatch.fnmatchcase(host.lower().rstrip("."), pattern):
                return pattern
    return None


class NetworkRulesSource(Protocol):
    """Where a tenant's network rules come from (the tenant's policy, a file, or both)."""

    def network_rules_for(self, tenant_id: str) -> NetworkRules: ...


class NetworkRulesDocument(BaseModel):
    """The rules file: rules by tenant id."""

    model_config = ConfigDict(extra="forbid")

    tenants: dict[str, NetworkRules] = Field(default_factory=dict)


class NetworkRulesFile:
    """Rules read from a YAML/JSON file, re-read whenever the file changes.

    With no file configured every tenant gets empty rules: public internet only. A configured
    file that is missing or invalid makes every lookup fail, so fetching fails closed.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._document = NetworkRulesDocument()

    def network_rules_for(self, tenant_id: str) -> NetworkRules:
        """The rules of `tenant_id` (empty rules when the file does not name it)."""
        if self._path is None:
            return NetworkRules()
        return self._current(self._path).tenants.get(tenant_id, NetworkRules())

    def _current(self, path: Path) -> NetworkRulesDocument:
        try:
            stat = path.stat()
        except OSError as exc:
            raise NetworkRulesUnavailable(f"network rules file {path} cannot be read") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._document = _load(path)
                self._stamp = stamp
            return self._document


def _load(path: Path) -> NetworkRulesDocument:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return NetworkRulesDocument.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise NetworkRulesUnavailable(f"network rules file {path} cannot be parsed") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise NetworkRulesUnavailable(f"network rules file {path} is invalid: {problems}") from exc


class PolicyNetworkRules:
    """The hosts in each tenant's policy (`network.allowed_hosts` / `denied_hosts`, the base
    policy's included), joined with the operator's rules file when one is configured.

    Reads are synchronous and cheap: `policies` keeps an in-process view that its owner refreshes
    in the background (`PolicySet.refreshing()`, run in the server's lifespan).
    """

    def __init__(self, policies: PolicySet, file: NetworkRulesSource | None = None) -> None:
        self._policies = policies
        self._file = file

    def network_rules_for(self, tenant_id: str) -> NetworkRules:
        policy = self._policies.network_rules(tenant_id)
        extra = self._file.network_rules_for(tenant_id) if self._file is not None else NetworkRules()
        return NetworkRules(
            allowed_hosts=tuple(dict.fromkeys((*policy.allowed_hosts, *extra.allowed_hosts))),
            denied_hosts=tuple(dict.fromkeys((*policy.denied_hosts, *extra.denied_hosts))),
        )
