"""`/api/admin/tenants/{tenant_id}/webhooks`: where a tenant's events are sent, and how that went.

A tenant admin registers a URL for event types (approval requested/decided, ingestion
finished/failed, budget threshold, circuit opened); the answer carries the signing secret, once.
Events arrive as CloudEvents (structured JSON) signed per Standard Webhooks; each delivery's
attempts are readable here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentmesh.outbound import SAVED_URL_RULE
from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.openapi import Operation
from gateway.webhooks import DeliveryList, WebhookCreated, WebhookIn, WebhookList

PATH = "/api/admin/tenants/{tenant_id}/webhooks"
WEBHOOK_PATH: dict[str, dict[str, Any]] = {
    **TENANT_PATH,
    "webhook_id": {"type": "string", "pattern": r"^wh_[0-9a-f]{32}$"},
}

CREATE = Operation(
    "POST",
    PATH,
    "createWebhook",
    "Register a webhook for some of the tenant's events; the signing secret is in this answer only",
    "webhooks",
    WebhookCreated,
    body=WebhookIn,
    status=201,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
    description=(
        "Each event is POSTed as a CloudEvent (`application/cloudevents+json`) with the Standard "
        "Webhooks headers `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,` and the "
        "base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed with the secret). A non-2xx answer "
        "is retried with exponential backoff until the delivery is dead. "
        f"{SAVED_URL_RULE} The check is made again at every delivery."
    ),
)
LIST = Operation(
    "GET",
    PATH,
    "listWebhooks",
    "The tenant's webhooks (never their secrets)",
    "webhooks",
    WebhookList,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
DELETE = Operation(
    "DELETE",
    PATH + "/{webhook_id}",
    "deleteWebhook",
    "Remove a webhook and its delivery log",
    "webhooks",
    None,
    status=204,
    errors=(400, 403, 404),
    path_schemas=WEBHOOK_PATH,
)
DELIVERIES = Operation(
    "GET",
    PATH + "/{webhook_id}/deliveries",
    "listWebhookDeliveries",
    "A webhook's deliveries, newest first: state, every attempt's status or error, the next attempt",
    "webhooks",
    DeliveryList,
    errors=(400, 403, 404),
    path_schemas=WEBHOOK_PATH,
)


async def create_webhook(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    body = await CREATE.read_body(request, access.state.settings.max_body_bytes)
    created = await access.state.webhooks.create(access.tenant_id, body, created_by=access.principal)
    await access.record("webhook.create", f"webhook:{created.id}", arguments=body.model_dump(mode="json"))
    return CREATE.reply(created)


async def list_webhooks(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    return LIST.reply(WebhookList(webhooks=await access.state.webhooks.of_tenant(access.tenant_id)))


async def delete_webhook(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    webhook_id = request.path_params["webhook_id"]
    await access.state.webhooks.delete(access.tenant_id, webhook_id)
    await access.record("webhook.delete", f"webhook:{webhook_id}")
    return DELETE.reply()


async def list_deliveries(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    deliveries = await access.state.webhooks.deliveries(access.tenant_id, request.path_params["webhook_id"])
    return DELIVERIES.reply(DeliveryList(deliveries=deliveries))


operations = [
    CREATE.bind(create_webhook),
    LIST.bind(list_webhooks),
    DELETE.bind(delete_webhook),
    DELIVERIES.bind(list_deliveries),
]
