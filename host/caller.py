"""Who a turn runs for. Passed explicitly through the host; never a global."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Caller(BaseModel):
    """The authenticated end user of a turn, their tenant and their session."""

    tenant_id: str
    subject: str
    roles: list[str] = Field(default_factory=lambda: ["user"])
    session_id: str | None = None
    user_token: str | None = Field(default=None, exclude=True, repr=False)
    """The bearer token the user presented, for tools that forward it to an upstream trusting the
    same identity provider. Never stored: a paused turn resumes without it."""
