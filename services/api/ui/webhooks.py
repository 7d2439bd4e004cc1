"""Webhook pages: a tenant's (or the platform's) webhooks, adding one (its secret shown once),
enable, disable, delete, a test event, and one webhook's delivery log. Every change is the API's
own operation called as the signed-in principal."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from libs.webhooks.events import WebhookEvent
from services.api.problems import ApiError
from services.api.routes.webhooks import TestEventSent, Webhook, WebhookDeleted, WebhookDeliveryList, WebhookList
from services.api.ui.gateway import Gateway
from services.api.ui.render import render
from services.api.ui.session import PREFIX
from services.api.ui.web import done, failed, field_errors, form_data, gateway, ui_route, wants_json

EVENT_WORDS = {
    WebhookEvent.RUN_SUCCEEDED: "A sync succeeded",
    WebhookEvent.RUN_PARTIAL: "A sync ended partial",
    WebhookEvent.RUN_FAILED: "A sync failed",
    WebhookEvent.RUN_HELD: "A sync is held for review",
    WebhookEvent.RUN_CANCELLED: "A sync was cancelled",
    WebhookEvent.PROVIDER_STALE: "A provider has not synced within its alert time",
    WebhookEvent.PROVIDER_RECOVERED: "A stale provider synced again",
}


ACTIONS = ("enabled", "test", "delete")


def list_url(tenant: str | None) -> str:
    return f"{PREFIX}/webhooks" + (f"?{urlencode({'tenant': tenant})}" if tenant else "")


def _scope(gw: Gateway, request: Request) -> str | None:
    """The tenant whose webhooks are shown; None: the platform-wide ones (platform admins)."""
    chosen = request.query_params.get("tenant")
    return chosen or (None if gw.principal.is_platform_admin else str(gw.principal.tenant_id))


async def _page(
    request: Request, gw: Gateway, tenant: str | None, *, created: Webhook | None = None, **form: Any
) -> Response:
    if tenant is None:
        hooks = await gw.model(WebhookList, "listPlatformWebhooks")
    else:
        hooks = await gw.model(WebhookList, "listTenantWebhooks", tenantId=tenant)
    context = {
        "tenant": tenant,
        "webhooks": hooks.webhooks,
        "created": created,
        "event_words": EVENT_WORDS,
        "values": form.get("values", {}),
        "errors": form.get("errors", {}),
    }
    return render(request, gw.services, "webhooks.html", context, session=gw.session, status=form.get("status", 200))


@ui_route
async def webhooks_page(request: Request) -> Response:
    gw = gateway(request)
    return await _page(request, gw, _scope(gw, request))


@ui_route
async def create_webhook(request: Request) -> Response:
    gw = gateway(request)
    data = await form_data(request)
    tenant = data.get("tenant") or None
    body = {
        "url": data.get("url", "").strip(),
        "events": [e.value for e in WebhookEvent if data.get(f"event.{e.value}") == "true"],
        "enabled": True,
    }
    try:
        if tenant is None:
            created = await gw.model(Webhook, "createPlatformWebhook", body=body)
        else:
            created = await gw.model(Webhook, "createTenantWebhook", tenantId=tenant, body=body)
    except ApiError as exc:
        if wants_json(request) or exc.status != 422:
            raise
        return await _page(request, gw, tenant, values=data, errors=field_errors(exc), status=422)
    if wants_json(request):
        return done(request, "Webhook added.", to=list_url(tenant), secret=created.secret)
    # rendered, not redirected: the secret is shown on this page only
    return await _page(request, gw, tenant, created=created, status=201)


@ui_route
async def webhook_page(request: Request) -> Response:
    gw = gateway(request)
    webhook_id = request.path_params["webhookId"]
    hook = await gw.model(Webhook, "getWebhook", webhookId=webhook_id)
    log = await gw.model(WebhookDeliveryList, "listWebhookDeliveries", webhookId=webhook_id)
    context = {"hook": hook, "deliveries": log.deliveries, "back": list_url(hook.tenant_id)}
    return render(request, gw.services, "webhook.html", context, session=gw.session)


@ui_route
async def webhook_action(request: Request) -> Response:
    gw = gateway(request)
    data = await form_data(request)
    webhook_id = request.path_params["webhookId"]
    action = request.url.path.rsplit("/", 1)[-1]
    hook = await gw.model(Webhook, "getWebhook", webhookId=webhook_id)
    to = list_url(hook.tenant_id)
    try:
        if action == "enabled":
            enabled = data.get("enabled") == "true"
            await gw.model(Webhook, "updateWebhook", webhookId=webhook_id, body={"enabled": enabled})
            message = "Webhook enabled." if enabled else "Webhook disabled: it receives nothing until enabled."
        elif action == "test":
            sent = await gw.model(TestEventSent, "sendTestEvent", webhookId=webhook_id)
            message = f"Test event {sent.message_id} queued; its delivery shows in the webhook's log."
            to = f"{PREFIX}/webhooks/{webhook_id}"
        else:
            await gw.model(WebhookDeleted, "deleteWebhook", webhookId=webhook_id)
            message = "Webhook deleted."
    except ApiError as exc:
        if exc.status in (401, 404):
            raise
        return failed(request, exc, to=to)
    return done(request, message, to=to)
