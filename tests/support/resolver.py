"""A resolver answering from a table: the DNS boundary of the outbound guard, replaced in tests."""

from __future__ import annotations

import ipaddress

from agentmesh.addresses import IPAddress
from agentmesh.outbound import UnresolvableHost


class StaticResolver:
    """Answers from `table` (name -> addresses); the table may change between lookups, as DNS does."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table: dict[str, list[IPAddress]] = {}
        self.lookups: list[str] = []
        for name, addresses in (table or {}).items():
            self.answer(name, *addresses)

    def answer(self, name: str, *addresses: str) -> None:
        """From now on, `name` resolves to `addresses`."""
        self.table[name] = [ipaddress.ip_address(address) for address in addresses]

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.table:
            raise UnresolvableHost(f"host '{host}' does not resolve")
        return list(self.table[host])
