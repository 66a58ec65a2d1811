"""A tenant's knowledge documents as MCP resources, for the gateway's `/mcp`, under policy.

The documents live on the `rag` server as `kb://documents/{document_id}`; they are listed and
read there as the caller's tenant (an audience-bound mesh token), so no other tenant's document
can answer. The URIs are passed through unchanged, so a client reads back exactly what it was
listed; only the template's and the resources' names carry the server, `rag__...`, like tools.

The decision: a document is what `rag:search` would show of it, so listing, reading and
completing need the caller to see `rag:search` in its catalog (policy and role applied, as for
the tool itself), and a read is decided like a call of that tool and audited as
`resource:<uri>` with the rule that made it.
"""

from __future__ import annotations

import time

from mcp_types import Completion, ReadResourceResult, Resource, ResourceTemplate, ResourceTemplateReference

from agentmesh.errors import AgentmeshError
from host.authorizer import Authorizer
from host.caller import Caller
from host.catalog import EXTERNAL_SEPARATOR, ToolCatalog, ToolSpec
from host.mcp_pool import McpPool
from host.server_connection import ServerUnavailable
from host.tokens import MeshTokenIssuer

KNOWLEDGE_SERVER = "rag"
KNOWLEDGE_SCHEME = "kb://"
GOVERNING_TOOL = "search"
"""The tool whose permission covers the documents (`rag:search`)."""


class ResourceNotFound(AgentmeshError):
    code = "not_found"


class ResourceDenied(AgentmeshError):
    code = "denied"


def _named(name: str) -> str:
    return f"{KNOWLEDGE_SERVER}{EXTERNAL_SEPARATOR}{name}"


class KnowledgeResources:
    """Lists, reads and completes a tenant's knowledge documents on the `rag` server."""

    def __init__(
        self, *, pool: McpPool, catalog: ToolCatalog, authorizer: Authorizer, issuer: MeshTokenIssuer
    ) -> None:
        self._pool = pool
        self._catalog = catalog
        self._authorizer = authorizer
        self._issuer = issuer

    async def _governing_tool(self, caller: Caller) -> ToolSpec | None:
        """`rag:search` when the caller's tenant may see it; None otherwise (no documents then)."""
        if not self._pool.has(KNOWLEDGE_SERVER):
            return None
        await self._catalog.ensure_fresh([KNOWLEDGE_SERVER])
        spec = self._catalog.find(KNOWLEDGE_SERVER, GOVERNING_TOOL)
        if spec is None or not spec.visible_to(caller.tenant_id) or self._catalog.is_withheld(spec):
            return None
        return spec if self._authorizer.may_see(caller, spec) else None

    def _token(self, caller: Caller) -> str:
        return self._issuer.for_call(KNOWLEDGE_SERVER, caller, frozenset({GOVERNING_TOOL}))

    async def templates(self, caller: Caller) -> list[ResourceTemplate]:
        if await self._governing_tool(caller) is None:
            return []
        connection = self._pool.connection(KNOWLEDGE_SERVER)
        templates = await connection.list_resource_templates(token=self._token(caller))
        return [
            template.model_copy(update={"name": _named(template.name)})
            for template in templates
            if template.uri_template.startswith(KNOWLEDGE_SCHEME)
        ]

    async def listed(self, caller: Caller) -> list[Resource]:
        if await self._governing_tool(caller) is None:
            return []
        connection = self._pool.connection(KNOWLEDGE_SERVER)
        resources = await connection.list_resources(token=self._token(caller))
        return [
            resource.model_copy(update={"name": _named(resource.name)})
            for resource in resources
            if str(resource.uri).startswith(KNOWLEDGE_SCHEME)
        ]

    def serves(self, uri: str) -> bool:
        return uri.startswith(KNOWLEDGE_SCHEME)

    async def read(self, caller: Caller, uri: str) -> ReadResourceResult:
        """The document at `uri` for the caller; `ResourceNotFound` / `ResourceDenied` otherwise."""
        spec = await self._governing_tool(caller) if self.serves(uri) else None
        if spec is None:
            raise ResourceNotFound(f"no resource '{uri}' is available")
        decision = self._authorizer.read_resource(caller, spec, uri)
        if decision.effect != "allow":
            raise ResourceDenied(f"reading '{uri}' is not allowed by policy: {decision.reason}")
        started = time.perf_counter()
        error_code = None
        try:
            return await self._pool.connection(KNOWLEDGE_SERVER).read_resource(uri, token=self._token(caller))
        except ServerUnavailable as exc:
            error_code = exc.code
            raise
        finally:
            self._authorizer.audit.tool_call(
                caller,
                f"resource:{uri}",
                {},
                is_error=error_code is not None,
                error_code=error_code,
                duration_ms=(time.perf_counter() - started) * 1000,
                rule=decision.rule,
            )

    async def complete(
        self, caller: Caller, ref: ResourceTemplateReference, argument: dict[str, str]
    ) -> Completion:
        """Values of a template argument (document ids), for a caller who may read the documents."""
        if not ref.uri.startswith(KNOWLEDGE_SCHEME) or await self._governing_tool(caller) is None:
            return Completion(values=[])
        connection = self._pool.connection(KNOWLEDGE_SERVER)
        return await connection.complete(ref, argument, token=self._token(caller))
