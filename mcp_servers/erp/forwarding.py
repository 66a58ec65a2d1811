"""Sending the user's own token upstream (auth mode `forward`), only where the operator allows it.

Some company systems trust the same identity provider as the platform and want the user's own
token, not a platform-signed identity. But tenant admins configure ERP tools: if a tool could
send every user's bearer token to any URL, an admin could collect them and act as those users.
So the platform operator lists the origins that trust the same identity provider
(`AGENTMESH_FORWARD_USER_TOKEN_TO`), and a tool in mode `forward` whose upstream is not one of
them is refused when it is saved (400) and again when it is called.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from agentmesh.errors import AgentmeshError
from agentmesh.settings import Settings
from mcp_servers.erp.tool_config import HttpToolConfig


class ForwardingRefused(AgentmeshError):
    """A tool would send the user's token to an upstream the operator has not listed."""

    code = "invalid_tool_config"


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class UserTokenForwarding:
    """The origins the user's own token may be sent to."""

    def __init__(self, origins: Iterable[str], *, erp_api_url: str | None) -> None:
        self._origins = frozenset(origin_of(entry) for entry in origins)
        self._erp_api_url = erp_api_url

    @classmethod
    def from_settings(cls, settings: Settings) -> UserTokenForwarding:
        return cls(settings.forward_user_token_to, erp_api_url=settings.erp_api_url)

    def check(self, config: HttpToolConfig) -> None:
        """Refuse a `forward` tool whose upstream is not listed (any other tool passes)."""
        if config.auth.mode != "forward":
            return
        upstream = config.absolute_origin or (origin_of(self._erp_api_url) if self._erp_api_url else None)
        if upstream is None or origin_of(upstream) not in self._origins:
            where = upstream or "the embedded ERP API"
            raise ForwardingRefused(
                f"tool '{config.name}' would send users' own tokens to {where}, which the platform "
                "does not forward them to; the operator lists the origins that trust the same "
                "identity provider in AGENTMESH_FORWARD_USER_TOKEN_TO",
                details={"origin": upstream},
            )
