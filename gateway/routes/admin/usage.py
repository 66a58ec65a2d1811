"""`/api/admin/tenants/{tenant_id}/usage`: tokens, cost and requests of one tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from gateway.usage import UsageSummary

DEFAULT_DAYS = 30
MAX_DAYS = 366


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: date | None = Field(default=None, description="first day (UTC); default: 29 days before `until`")
    until: date | None = Field(default=None, description="last day (UTC); default: today")

    def window(self, today: date) -> tuple[date, date]:
        """The inclusive days asked for, defaults filled in; 400 when reversed or too long."""
        until = self.until or max(today, self.since or today)
        since = self.since or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise ApiError(
                "invalid_query",
                "since must not be after until",
                details=[{"field": "since", "problem": "is after until"}],
            )
        if (until - since).days >= MAX_DAYS:
            raise ApiError(
                "invalid_query",
                f"a usage window is at most {MAX_DAYS} days",
                details=[{"field": "since", "problem": f"more than {MAX_DAYS} days before until"}],
            )
        return since, until


GET = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/usage",
    "getUsage",
    "Usage of one tenant: requests, tokens and cost, in total and by day, agent and channel",
    "usage",
    UsageSummary,
    query=UsageQuery,
    errors=(400, 403, 404),
    path_schemas=TENANT_PATH,
)


async def get_usage(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    since, until = GET.read_query(request).window(datetime.now(UTC).date())
    return GET.reply(await access.state.admin.usage.summary(access.tenant_id, since, until))


operations = [GET.bind(get_usage)]
