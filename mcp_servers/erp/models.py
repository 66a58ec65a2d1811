"""What the ERP server publishes to the rest of the platform: its tool configurations and stores.

The gateway's admin API creates and edits tool configurations and service credentials through
these, and imports nothing else of the server (a test holds gateway/ and host/ to the `models`
modules).
"""

from __future__ import annotations

from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.forwarding import ForwardingRefused, UserTokenForwarding
from mcp_servers.erp.tool_config import TOOL_NAME_PATTERN, HttpToolConfig
from mcp_servers.erp.tool_store import (
    InvalidToolConfig,
    StoredToolConfig,
    ToolConfigNotFound,
    ToolConfigStore,
    ToolNameTaken,
    ToolStoreError,
)

__all__ = [
    "TOOL_NAME_PATTERN",
    "ForwardingRefused",
    "HttpToolConfig",
    "InvalidToolConfig",
    "ServiceCredentialStore",
    "StoredToolConfig",
    "ToolConfigNotFound",
    "ToolConfigStore",
    "ToolNameTaken",
    "ToolStoreError",
    "UserTokenForwarding",
]
