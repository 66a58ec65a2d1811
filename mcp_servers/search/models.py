"""What the search server publishes to the rest of the platform: web search provider settings.

The gateway's admin API stores a tenant's provider through these, and imports nothing else of
the server (a test holds gateway/ and host/ to the `models` modules).
"""

from __future__ import annotations

from mcp_servers.search.provider_configs import ProviderConfigStore, ProviderSettings, ProviderSummary

__all__ = ["ProviderConfigStore", "ProviderSettings", "ProviderSummary"]
