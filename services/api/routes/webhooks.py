"""Webhooks: a tenant's (district admins) and platform-wide ones (platform admins), their delivery
log and a test event. The signing secret is in the create response only; later reads mask it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from sqlalchemy import Connection

from libs.audit import record
from libs.connectors.egress import EgressPolicy, Unresolvable
from libs.connectors.errors import EgressRefused
from libs.webhooks import events, store
from libs.webhooks.events import WebhookEvent
from services.api.endpoint import Call, operation
from services.api.problems import ApiError, field_error, invalid, not_found
from services.api.schemas import ApiModel, QueryModel
from services.api.security import require_platform_admin, require_tenant

TAG = "webhooks"
MASK = "********"


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        # a credential in the URL would be shown to every reader of the webhook
        raise ValueError("may not carry a user name or password; receivers verify the signature instead")
    try:
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError as exc:
        raise ValueError(f"has an invalid port ({exc})") from None
    return value


def _check_events(value: list[WebhookEvent]) -> list[WebhookEvent]:
    if len(set(value)) != len(value):
        raise ValueError("lists an event twice")
    return value


class WebhookCreate(ApiModel):
    url: str = Field(max_length=2048, description="http(s) URL the events are POSTed to")
    events: list[WebhookEvent] = Field(min_length=1, description="the events this webhook receives")
    enabled: bool = True

    _url = field_validator("url")(_check_url)
    _events = field_validator("events")(_check_events)


class WebhookUpdate(ApiModel):
    url: str | None = Field(default=None, max_length=2048)
    events: list[WebhookEvent] | None = Field(default=None, min_length=1)
    enabled: bool | None = None

    _url = field_validator("url")(lambda v: v if v is None else _check_url(v))
    _events = field_validator("events")(lambda v: v if v is None else _check_events(v))


class Webhook(ApiModel):
    id: uuid.UUID
    tenant_id: str | None = Field(description="null: platform-wide, receives every tenant's events")
    url: str
    events: list[str]
    enabled: bool
    secret: str = Field(description="The signing secret (whsec_...): in the create response only, masked afterwards")
    failing_since: datetime | None = Field(description="first failed delivery since the last success")
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookList(ApiModel):
    webhooks: list[Webhook]


class WebhookDelivery(ApiModel):
    id: int
    message_id: str
    event: str
    attempt: int
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="at most 200 characters of the receiver's answer")
    created_at: datetime


class WebhookDeliveryList(ApiModel):
    deliveries: list[WebhookDelivery]


class DeliveriesQuery(QueryModel):
    limit: int = Field(default=50, ge=1, le=500)


class WebhookDeleted(ApiModel):
    id: uuid.UUID
    deleted: bool


class TestEventSent(ApiModel):
    message_id: str


def webhook_out(row: store.StoredWebhook, secret: str = MASK) -> Webhook:
    values = {k: v for k, v in vars(row).items() if k != "secret_ciphertext"}
    return Webhook(**values, secret=secret)


def _check_reachable(call: Call, url: str) -> None:
    """Refuse at once a URL the egress policy would refuse at delivery (which checks again)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        EgressPolicy.from_settings(call.services.settings).addresses(str(parts.hostname), port)
    except Unresolvable:
        pass  # it may resolve later; each delivery resolves it again
    except EgressRefused as exc:
        message = str(exc).replace("providers may not reach", "webhooks may not reach")
        raise invalid([field_error(["url"], message)]) from None


def load_visible(call: Call, conn: Connection, webhook_id: uuid.UUID, *, lock: bool = False) -> store.StoredWebhook:
    """The webhook, or 404 for one of another tenant, or a platform-wide one for a district admin."""
    row = store.get(conn, webhook_id, lock=lock)
    if row is None:
        raise not_found("webhook")
    if row.tenant_id is None and not call.principal.is_platform_admin:
        raise not_found("webhook")
    if row.tenant_id is not None and not call.principal.can_access_tenant(row.tenant_id):
        raise not_found("webhook")
    return row


def _audit(call: Call, conn: Connection, action: str, row: store.StoredWebhook, **details: Any) -> None:
    record(
        conn,
        action=action,
        actor=call.principal.subject,
        target_type="sis_webhook",
        target_id=row.id,
        tenant_id=row.tenant_id,
        details=details,
    )


def _create(call: Call, tenant_id: str | None) -> Webhook:
    body: WebhookCreate = call.body
    _check_reachable(call, body.url)
    with call.services.engine.begin() as conn:
        row, secret = store.create(
            conn,
            call.services.cipher,
            tenant_id=tenant_id,
            url=body.url,
            events=[e.value for e in body.events],
            enabled=body.enabled,
        )
        _audit(call, conn, "webhook.created", row, events=row.events)
    return webhook_out(row, secret)


def _list(call: Call, tenant_id: str | None) -> WebhookList:
    with call.services.engine.connect() as conn:
        return WebhookList(webhooks=[webhook_out(row) for row in store.of_tenant(conn, tenant_id)])


@operation(
    "GET",
    "/api/v1/tenants/{tenantId}/webhooks",
    summary="List the webhooks of a tenant",
    tag=TAG,
    response=WebhookList,
    errors=(401, 403, 404),
)
def list_tenant_webhooks(call: Call) -> WebhookList:
    require_tenant(call.principal, call.path["tenantId"])
    return _list(call, call.path["tenantId"])


@operation(
    "POST",
    "/api/v1/tenants/{tenantId}/webhooks",
    summary="Create a webhook for a tenant's events; the response carries its signing secret, once",
    tag=TAG,
    response=Webhook,
    status=201,
    body=WebhookCreate,
    errors=(400, 401, 403, 404, 413, 415, 422),
)
def create_tenant_webhook(call: Call) -> Webhook:
    require_tenant(call.principal, call.path["tenantId"])
    return _create(call, call.path["tenantId"])


@operation(
    "GET",
    "/api/v1/webhooks",
    summary="List the platform-wide webhooks (platform admins)",
    tag=TAG,
    response=WebhookList,
    errors=(401, 403),
)
def list_platform_webhooks(call: Call) -> WebhookList:
    require_platform_admin(call.principal)
    return _list(call, None)


@operation(
    "POST",
    "/api/v1/webhooks",
    summary="Create a platform-wide webhook, for every tenant's events (platform admins)",
    tag=TAG,
    response=Webhook,
    status=201,
    body=WebhookCreate,
    errors=(400, 401, 403, 413, 415, 422),
)
def create_platform_webhook(call: Call) -> Webhook:
    require_platform_admin(call.principal)
    return _create(call, None)


@operation(
    "GET",
    "/api/v1/webhooks/{webhookId}",
    summary="Read a webhook (secret masked)",
    tag=TAG,
    response=Webhook,
    errors=(401, 403, 404),
)
def get_webhook(call: Call) -> Webhook:
    with call.services.engine.connect() as conn:
        return webhook_out(load_visible(call, conn, call.path["webhookId"]))


@operation(
    "PATCH",
    "/api/v1/webhooks/{webhookId}",
    summary="Change a webhook's URL, events or enabled flag; enabling it again forgets its failures",
    tag=TAG,
    response=Webhook,
    body=WebhookUpdate,
    errors=(400, 401, 403, 404, 413, 415, 422),
)
def update_webhook(call: Call) -> Webhook:
    body: WebhookUpdate = call.body
    changes = body.model_dump(exclude_unset=True, mode="json")
    for name in ("url", "events", "enabled"):
        if name in changes and changes[name] is None:
            raise invalid([field_error([name], "may not be null")])
    if "url" in changes:
        _check_reachable(call, changes["url"])
    with call.services.engine.begin() as conn:
        row = load_visible(call, conn, call.path["webhookId"], lock=True)
        row = store.change(conn, row.id, changes)
        _audit(call, conn, "webhook.updated", row, fields=sorted(changes))
    return webhook_out(row)


@operation(
    "DELETE",
    "/api/v1/webhooks/{webhookId}",
    summary="Delete a webhook and its delivery log",
    tag=TAG,
    response=WebhookDeleted,
    errors=(401, 403, 404),
)
def delete_webhook(call: Call) -> WebhookDeleted:
    with call.services.engine.begin() as conn:
        row = load_visible(call, conn, call.path["webhookId"], lock=True)
        store.delete(conn, row.id)
        _audit(call, conn, "webhook.deleted", row)
    return WebhookDeleted(id=row.id, deleted=True)


@operation(
    "GET",
    "/api/v1/webhooks/{webhookId}/deliveries",
    summary="The webhook's delivery attempts, newest first",
    tag=TAG,
    response=WebhookDeliveryList,
    query=DeliveriesQuery,
    errors=(401, 403, 404),
)
def list_webhook_deliveries(call: Call) -> WebhookDeliveryList:
    query: DeliveriesQuery = call.query
    with call.services.engine.connect() as conn:
        row = load_visible(call, conn, call.path["webhookId"])
        rows = store.deliveries(conn, row.id, limit=query.limit)
    return WebhookDeliveryList(deliveries=[WebhookDelivery(**r) for r in rows])


@operation(
    "POST",
    "/api/v1/webhooks/{webhookId}/test",
    summary="Send a signed webhook.test event now (whatever events the webhook receives)",
    tag=TAG,
    response=TestEventSent,
    status=202,
    errors=(401, 403, 404, 409, 429),
    rate_limited=True,
)
def send_test_event(call: Call) -> TestEventSent:
    with call.services.engine.connect() as conn:
        row = load_visible(call, conn, call.path["webhookId"])
    call.services.limiter.hit(f"hooktest:{call.token}:{row.id}", call.services.settings.api_sync_triggers_per_minute)
    if not row.enabled:
        raise ApiError(409, "the webhook is disabled; enable it to send a test event")
    body = events.payload(events.TEST_EVENT, {"tenantId": row.tenant_id, "webhookId": str(row.id)})
    with call.services.engine.begin() as conn:
        messages = events.kept(conn, events.messages([row.id], body))
        _audit(call, conn, "webhook.test_sent", row, messageId=messages[0].args[1])
    call.services.send(messages)
    return TestEventSent(message_id=messages[0].args[1])
