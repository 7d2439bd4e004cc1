"""Form actions: add a provider (test first), run, cancel, schedule, enable, delete.

Each one is a declared API operation called as the signed-in principal; this module only maps
form fields to the operation's body and its answer to a message in words. Editing a saved
provider's connection and sync options is in `edits`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.problems import ApiError, field_error, invalid
from services.api.schemas import (
    CancelAccepted,
    ConnectionTestResult,
    PresetList,
    Provider,
    ProviderDeleted,
    SyncAccepted,
)
from services.api.ui import forms, present
from services.api.ui.gateway import Gateway
from services.api.ui.pages import list_url, type_forms
from services.api.ui.render import render
from services.api.ui.session import PREFIX
from services.api.ui.web import done, failed, field_errors, form_data, gateway, tested, ui_route, wants_json


def provider_url(provider_id: object) -> str:
    return f"{PREFIX}/providers/{provider_id}"


def schedule_of(data: dict[str, str]) -> str | None:
    """The form's schedule choice as the API takes it: a preset name, a cron expression, or none."""
    choice = data.get("schedule", "none")
    if choice == "custom":
        cron = data.get("cron", "").strip()
        if not cron:
            raise invalid([field_error(["syncSchedule"], "enter a cron expression, e.g. 0 6 * * 1-5")])
        return cron
    return None if choice in ("", "none") else choice


@ui_route
async def create_provider(request: Request) -> Response:
    gw = gateway(request)
    data = await form_data(request)
    tenant = data.get("tenantId", "")
    by_type = {f.provider_type: f for f in await type_forms(gw)}
    form = by_type.get(data.get("providerType", ""))
    try:
        if form is None:
            raise invalid([field_error(["providerType"], "choose a provider type")])
        config = forms.config_from_form(form, data)
        if data.get("action") == "test":
            probe = {"tenantId": tenant, "providerType": form.provider_type, "config": config}
            result = await gw.model(ConnectionTestResult, "testUnsavedConnection", body=probe)
            return await _after_test(request, gw, data, result)
        body: dict[str, Any] = {
            "tenantId": tenant,
            "providerType": form.provider_type,
            "name": data.get("name", "").strip(),
            "config": config,
            "enabled": data.get("enabled") == "true",
            "syncSchedule": schedule_of(data),
            "scheduleTimezone": data.get("scheduleTimezone", "").strip() or "UTC",
        }
        provider = await gw.model(Provider, "createProvider", body=body)
    except ApiError as exc:
        if wants_json(request) or exc.status != 422:
            raise
        return await _form_again(request, gw, data, errors=field_errors(exc), status=422)
    url = provider_url(provider.id)
    return done(request, f"Provider “{provider.name}” added.", to=url, redirect=url)


async def _after_test(request: Request, gw: Gateway, data: dict[str, str], result: ConnectionTestResult) -> Response:
    if wants_json(request):
        return tested(result)
    return await _form_again(request, gw, data, errors={}, test=result)


async def _form_again(
    request: Request,
    gw: Gateway,
    data: dict[str, str],
    *,
    errors: dict[str, str],
    test: ConnectionTestResult | None = None,
    status: int = 200,
) -> Response:
    """The add-provider page again, for browsers without JavaScript; secrets are never put back."""
    type_list = await type_forms(gw)
    values = {k: v for k, v in data.items() if ":" not in k and k not in ("csrf", "action")}
    for form in type_list:
        values.update(forms.safe_values(form, data))
    context = {
        "tenant": data.get("tenantId", ""),
        "type_forms": type_list,
        "presets": (await gw.model(PresetList, "listSchedulePresets")).presets,
        "values": values,
        "errors": errors,
        "test": test,
    }
    return render(request, gw.services, "add_provider.html", context, session=gw.session, status=status)


ProviderAction = Callable[[Request, Gateway, dict[str, str], str], Awaitable[Response]]


def provider_action(action: ProviderAction) -> Callable[[Request], Awaitable[Response]]:
    """A form of the provider page: the action gets the gateway, the form and the provider id; a
    refusal other than 404 (and 401, which signs out) goes back to the page as a message."""

    @ui_route
    @functools.wraps(action)
    async def run(request: Request) -> Response:
        gw = gateway(request)
        data = await form_data(request)
        provider_id = request.path_params["providerId"]
        try:
            return await action(request, gw, data, provider_id)
        except ApiError as exc:
            if exc.status in (404, 401):
                raise
            return failed(request, exc, to=provider_url(provider_id))

    return run


@provider_action
async def trigger_sync(request: Request, gw: Gateway, data: dict[str, str], provider_id: str) -> Response:
    preview = data.get("mode") == "preview"
    body = {"mode": "preview"} if preview else None
    accepted = await gw.model(SyncAccepted, "triggerSync", providerId=provider_id, body=body)
    if preview:
        message = "Preview requested: the sync reads and plans, then waits for your review; nothing is written."
    else:
        message = f"Sync requested ({accepted.mode.value}); progress shows below."
    return done(request, message, to=provider_url(provider_id), runId=str(accepted.run_id))


@provider_action
async def cancel_sync(request: Request, gw: Gateway, data: dict[str, str], provider_id: str) -> Response:
    result = await gw.model(CancelAccepted, "cancelSync", providerId=provider_id)
    if result.status.value == "CANCELLED":
        message = "The waiting sync was cancelled."
    else:
        message = "Cancel requested: the sync stops within seconds, at its next source wait or batch."
    return done(request, message, to=provider_url(provider_id), runId=str(result.run_id))


@provider_action
async def save_schedule(request: Request, gw: Gateway, data: dict[str, str], provider_id: str) -> Response:
    body = {"syncSchedule": schedule_of(data), "scheduleTimezone": data.get("scheduleTimezone", "").strip()}
    provider = await gw.model(Provider, "updateProvider", providerId=provider_id, body=body)
    words = present.schedule_words(provider.sync_schedule)
    when = f" Next run: {present.utc_text(provider.next_run_at)}." if provider.next_run_at else ""
    return done(request, f"Schedule saved: {words}.{when}", to=provider_url(provider_id))


@provider_action
async def set_enabled(request: Request, gw: Gateway, data: dict[str, str], provider_id: str) -> Response:
    body = {"enabled": data.get("enabled") == "true"}
    provider = await gw.model(Provider, "updateProvider", providerId=provider_id, body=body)
    if provider.enabled:
        message = "Provider enabled: scheduled syncs will run."
    else:
        message = "Provider disabled: no sync runs until it is enabled again."
    return done(request, message, to=provider_url(provider_id))


@ui_route
async def delete_provider(request: Request) -> Response:
    gw = gateway(request)
    data = await form_data(request)
    provider_id = request.path_params["providerId"]
    provider = await gw.model(Provider, "getProvider", providerId=provider_id)
    try:
        if data.get("confirm") != "yes":
            raise invalid([field_error(["confirm"], "tick the box to confirm the deletion")])
        query = {"deactivateEntities": "true" if data.get("deactivateEntities") == "true" else "false"}
        result = await gw.model(ProviderDeleted, "deleteProvider", providerId=provider_id, query=query)
    except ApiError as exc:
        if exc.status in (404, 401):
            raise
        return failed(request, exc, to=provider_url(provider_id))
    message = f"Provider “{provider.name}” deleted."
    if result.deactivated:
        message += " Deactivated: " + ", ".join(f"{n:,} {table}" for table, n in result.deactivated.items()) + "."
    target = list_url(provider.tenant_id)
    return done(request, message, to=target, redirect=target)
