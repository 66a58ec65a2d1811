"""Each tenant's model provider settings, with the API key encrypted at rest.

The key is sealed with the platform's `SecretBox` on the way in and opened only by the host when
it builds that tenant's provider client; views (what the admin API returns) show a hint of the
key's last characters, never the key. A base URL receives the tenant's key with every request,
so it passes the outbound guard before it is stored (and every connection to it again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import SecretBox
from agentmesh.tenant_rows import TenantRows, delete_declared
from host.config_versions import bump
from host.tables import LlmConfigRow

Provider = Literal["anthropic", "openai", "gemini"]
PROVIDERS: tuple[Provider, ...] = ("anthropic", "openai", "gemini")


class LlmConfigNotFound(AgentmeshError):
    """The tenant has no stored LLM configuration."""

    code = "llm_config_not_found"


class LlmConfigIn(BaseModel):
    """What an admin sets: provider, model, key, and (OpenAI-compatible servers) a base URL."""

    model_config = ConfigDict(extra="forbid")

    provider: Provider
    model: str = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    api_key: SecretStr
    base_url: str | None = Field(default=None, max_length=500)

    @field_validator("api_key")
    @classmethod
    def _plausible_key(cls, value: SecretStr) -> SecretStr:
        if not 8 <= len(value.get_secret_value()) <= 500 or any(
            c.isspace() for c in value.get_secret_value()
        ):
            raise ValueError("api_key must be 8 to 500 characters without spaces")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("base_url must be an http(s) URL such as https://openrouter.ai/api/v1")
        return value.rstrip("/")


class LlmConfigView(BaseModel):
    """The tenant's configuration as shown to admins: no key, only whether there is one and its end.

    A tenant without one reads `configured: false` and nothing else: that is a state, not a missing
    resource (its agents whose model is `default` run on the local planner).
    """

    tenant_id: str
    configured: bool = Field(description="false: none is stored, and the fields below are null")
    provider: Provider | None = None
    model: str | None = None
    base_url: str | None = None
    has_api_key: bool = False
    key_hint: str | None = Field(default=None, description="the key's last four characters, like '…a1b2'")
    updated_at: datetime | None = None


class LlmCredentials(BaseModel):
    """A tenant's configuration with the key opened, for the one client that uses it."""

    provider: Provider
    model: str
    api_key: SecretStr
    base_url: str | None = None


def _hint(key: str) -> str:
    return f"…{key[-4:]}"


def _view(row: LlmConfigRow) -> LlmConfigView:
    return LlmConfigView(
        tenant_id=row.tenant_id,
        configured=True,
        provider=row.provider,  # type: ignore[arg-type]
        model=row.model,
        base_url=row.base_url,
        has_api_key=bool(row.api_key_sealed),
        key_hint=row.key_hint,
        # SQLite hands timestamps back without their zone; they were written in UTC.
        updated_at=row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC),
    )


class LlmConfigStore:
    """Tenant LLM configurations; writes bump the `llm` version so every replica reloads."""

    TENANT_ROWS = (TenantRows("host_llm_configs", secrets=("api_key_sealed", "key_hint")),)

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox, *, outbound: OutboundGuard
    ) -> None:
        self._sessions = sessions
        self._box = secret_box
        self._outbound = outbound

    async def set(self, tenant_id: str, config: LlmConfigIn) -> LlmConfigView:
        """Create or replace the tenant's configuration; a base URL the platform does not call for
        tenants is refused (`BlockedDestination`) before anything is stored."""
        if config.base_url is not None:
            await self._outbound.check(config.base_url)
        key = config.api_key.get_secret_value()
        async with self._sessions() as db, db.begin():
            row = await db.get(LlmConfigRow, tenant_id)
            if row is None:
                row = LlmConfigRow(tenant_id=tenant_id)
                db.add(row)
            row.provider = config.provider
            row.model = config.model
            row.api_key_sealed = self._box.seal(key)
            row.key_hint = _hint(key)
            row.base_url = config.base_url
            row.updated_at = datetime.now(UTC)
            await bump(db, "llm")
        return _view(row)

    async def view(self, tenant_id: str) -> LlmConfigView:
        async with self._sessions() as db:
            row = await db.get(LlmConfigRow, tenant_id)
            return _view(row) if row is not None else LlmConfigView(tenant_id=tenant_id, configured=False)

    async def delete(self, tenant_id: str) -> None:
        """Remove the tenant's configuration; `LlmConfigNotFound` if there is none."""
        async with self._sessions() as db, db.begin():
            result = await db.execute(delete(LlmConfigRow).where(LlmConfigRow.tenant_id == tenant_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise LlmConfigNotFound(f"tenant '{tenant_id}' has no LLM configuration")
            await bump(db, "llm")

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's LLM settings (its sealed key) in `db`'s transaction."""
        removed = await delete_declared(db, self.TENANT_ROWS, tenant_id)
        if any(removed.values()):
            await bump(db, "llm")
        return removed

    async def credentials(self, tenant_id: str) -> LlmCredentials | None:
        """The tenant's configuration with its key decrypted (host use only; never returned to clients)."""
        async with self._sessions() as db:
            row = await db.get(LlmConfigRow, tenant_id)
        if row is None:
            return None
        return LlmCredentials(
            provider=row.provider,  # type: ignore[arg-type]
            model=row.model,
            api_key=SecretStr(self._box.open(row.api_key_sealed)),
            base_url=row.base_url,
        )
