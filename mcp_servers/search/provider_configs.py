"""Which web search provider each tenant uses: a typed store over `search_provider_configs`.

API keys are sealed with the platform's `SecretBox` before they reach the database and opened
only for the outbound call that needs them; summaries (what an admin API may show) carry
whether a key is set, never the key. A base URL passes the outbound guard when it is saved
(and every call to it again when it connects). A YAML file (`AGENTMESH_SEARCH_PROVIDERS_FILE`) can seed
the table at start:

    tenants:
      acme: {provider: searxng, base_url: "http://searx.internal:8080"}
      globex: {provider: brave, api_key: "BSA…"}
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio
import yaml
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agentmesh.db import session_factory
from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import SecretBox
from agentmesh.tenant_rows import TenantRows, delete_declared
from mcp_servers.search.errors import InvalidProviderConfig
from mcp_servers.search.providers import KEYED_PROVIDERS, ProviderName
from mcp_servers.search.tables import SearchProviderConfig


class ProviderSettings(BaseModel):
    """A provider configuration as an admin sets it."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    base_url: AnyHttpUrl | None = Field(default=None, description="the API's base URL; required for searxng")
    api_key: SecretStr | None = Field(default=None, description="required for brave, tavily and firecrawl")

    @model_validator(mode="after")
    def _complete(self) -> ProviderSettings:
        if self.provider == "searxng" and self.base_url is None:
            raise ValueError("searxng needs base_url: the address of your SearXNG instance")
        if self.provider in KEYED_PROVIDERS and not (self.api_key and self.api_key.get_secret_value()):
            raise ValueError(f"{self.provider} needs an api_key")
        return self


class ProviderConfig(BaseModel):
    """A tenant's provider configuration with its key opened, for the outbound call only."""

    tenant_id: str
    provider: ProviderName
    base_url: str | None
    api_key: SecretStr | None
    updated_at: datetime


class ProviderSummary(BaseModel):
    """A tenant's provider configuration as it may be shown: no key, only whether one is set."""

    tenant_id: str
    provider: ProviderName
    base_url: str | None
    has_api_key: bool
    updated_at: datetime


class ProviderSettingsFile(BaseModel):
    """The seed file: provider settings by tenant id."""

    model_config = ConfigDict(extra="forbid")

    tenants: dict[str, ProviderSettings] = Field(default_factory=dict)


class ProviderConfigStore:
    """Reads and writes tenants' provider configurations in the platform database."""

    TENANT_ROWS = (TenantRows("search_provider_configs", secrets=("api_key_sealed",)),)

    def __init__(
        self, engine: AsyncEngine, box: SecretBox, *, outbound: OutboundGuard, seed_file: Path | None = None
    ) -> None:
        self._sessions = session_factory(engine)
        self._box = box
        self._outbound = outbound
        self._seed_file = seed_file
        self._lock = anyio.Lock()
        self._ready = False

    async def put(self, tenant_id: str, settings: ProviderSettings) -> ProviderSummary:
        """Set the provider of `tenant_id`, replacing any earlier one; a base URL the platform does
        not call for tenants is refused (`BlockedDestination`) before anything is stored."""
        if settings.base_url is not None:
            await self._outbound.check(str(settings.base_url))
        await self._prepare()
        async with self._sessions.begin() as session:
            row = await session.merge(self._row(tenant_id, settings))
        return _summary(row)

    async def get(self, tenant_id: str) -> ProviderConfig | None:
        """The provider configuration of `tenant_id` with its key opened, or None if it has none."""
        await self._prepare()
        async with self._sessions() as session:
            row = await session.get(SearchProviderConfig, tenant_id)
        if row is None:
            return None
        try:
            key = self._box.open(row.api_key_sealed) if row.api_key_sealed else None
        except ValueError as exc:
            raise InvalidProviderConfig(
                f"the {row.provider} API key of this tenant cannot be decrypted; an admin must set it again"
            ) from exc
        return ProviderConfig(
            tenant_id=row.tenant_id,
            provider=row.provider,  # type: ignore[arg-type]
            base_url=row.base_url,
            api_key=SecretStr(key) if key is not None else None,
            updated_at=row.updated_at,
        )

    async def summary(self, tenant_id: str) -> ProviderSummary | None:
        """What may be shown of the configuration of `tenant_id`."""
        await self._prepare()
        async with self._sessions() as session:
            row = await session.get(SearchProviderConfig, tenant_id)
        return _summary(row) if row is not None else None

    async def remove(self, tenant_id: str) -> bool:
        """Forget the provider of `tenant_id` (web_search falls back to the local index)."""
        await self._prepare()
        async with self._sessions.begin() as session:
            row = await session.get(SearchProviderConfig, tenant_id)
            if row is None:
                return False
            await session.delete(row)
        return True

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def load_file(self, path: Path) -> list[ProviderSummary]:
        """Apply every entry of a seed file, all or nothing.

        The file is the operator's own configuration, so its base URLs are not refused here; each
        call to one still passes the outbound guard when it connects.
        """
        document = _read_seed(path)
        async with self._sessions.begin() as session:
            rows = [await session.merge(self._row(tenant, item)) for tenant, item in document.tenants.items()]
        return [_summary(row) for row in rows]

    def _row(self, tenant_id: str, settings: ProviderSettings) -> SearchProviderConfig:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return SearchProviderConfig(
            tenant_id=tenant_id,
            provider=settings.provider,
            base_url=str(settings.base_url) if settings.base_url else None,
            api_key_sealed=self._box.seal(key) if key else None,
            updated_at=datetime.now(UTC),
        )

    async def _prepare(self) -> None:
        """Apply the seed file, once per process (the table comes from the migrations)."""
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            if self._seed_file is not None:
                await self.load_file(self._seed_file)
            self._ready = True


def _summary(row: SearchProviderConfig) -> ProviderSummary:
    return ProviderSummary(
        tenant_id=row.tenant_id,
        provider=row.provider,  # type: ignore[arg-type]
        base_url=row.base_url,
        has_api_key=row.api_key_sealed is not None,
        updated_at=row.updated_at,
    )


def _read_seed(path: Path) -> ProviderSettingsFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidProviderConfig(f"search providers file {path} cannot be read") from exc
    try:
        return ProviderSettingsFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidProviderConfig(f"search providers file {path} is invalid: {problems}") from exc
