"""The search server's tables in the platform database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agentmesh.db import Base


class SearchProviderConfig(Base):
    """The web search provider a tenant uses; the API key is stored sealed (Fernet)."""

    __tablename__ = "search_provider_configs"

    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    api_key_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
