"""The pages: sign-in, tenant picker, integration list, provider details, run details."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.api.problems import ApiError
from services.api.schemas import (
    ErrorGroupList,
    PresetList,
    Provider,
    ProviderList,
    ProviderTypeList,
    RunDetail,
    RunList,
    SchedulePreview,
    SyncErrorList,
    SyncStatusOut,
    TenantList,
)
from services.api.security import principal_of
from services.api.ui import errorcodes, forms, options, present, review, undo
from services.api.ui.gateway import Gateway
from services.api.ui.render import fragment, render
from services.api.ui.session import CSRF_FIELD, PREFIX, check_csrf, sign_in, sign_out
from services.api.ui.web import form_data, gateway, services_of, session_of, ui_route

RUNS_PER_PAGE = 30
ERRORS_PER_PAGE = 50


def safe_next(value: str | None) -> str:
    """Only a path inside the UI: a login link must not become a redirect to another site."""
    if value and value.startswith(PREFIX) and "//" not in value and "\\" not in value:
        return value
    return PREFIX


async def login_page(request: Request) -> Response:
    services = services_of(request)
    context: dict[str, Any] = {"next": safe_next(request.query_params.get("next")), "error": None}
    return render(request, services, "login.html", context, session=session_of(request))


async def login_submit(request: Request) -> Response:
    services = services_of(request)
    data: dict[str, str] = {}
    try:
        data = await form_data(request, check=False)
        check_csrf(request, services.jwt_secret, data.get(CSRF_FIELD))
    except ApiError:
        context = {"next": safe_next(data.get("next")), "error": "The sign-in form had expired. Please try again."}
        return render(request, services, "login.html", context, status=403)
    try:
        token = data.get("token", "").strip()
        if not token:
            raise ApiError(422, "paste a token (sis-sync token prints one)")
        principal_of(token, services)
    except ApiError as exc:
        context = {"next": safe_next(data.get("next")), "error": f"This token cannot be used: {exc.detail}."}
        return render(request, services, "login.html", context, status=exc.status if exc.status < 500 else 400)
    response = RedirectResponse(safe_next(data.get("next")), status_code=303)
    sign_in(response, request, token)
    return response


async def logout(request: Request) -> Response:
    await form_data(request)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    sign_out(response, request)
    return response


def tenant_of(gw: Gateway, request: Request) -> str | None:
    chosen = request.query_params.get("tenant")
    if chosen:
        return chosen
    return None if gw.principal.is_platform_admin else str(gw.principal.tenant_id)


async def type_forms(gw: Gateway) -> list[forms.TypeForm]:
    types = await gw.model(ProviderTypeList, "listProviderTypes")
    allow_local = gw.services.settings.allow_local_csv_paths
    return [forms.build(info, allow_local_paths=allow_local) for info in types.provider_types]


async def type_form_of(gw: Gateway, provider_type: str) -> forms.TypeForm | None:
    """The form of one provider type; None when this build has no connector for it."""
    return next((f for f in await type_forms(gw) if f.provider_type == provider_type), None)


async def provider_rows(gw: Gateway, tenant: str) -> list[dict[str, Any]]:
    providers = await gw.model(ProviderList, "listProviders", tenantId=tenant)
    rows = []
    for provider in providers.providers:
        status = await gw.model(SyncStatusOut, "syncStatus", providerId=provider.id)
        rows.append({"provider": provider, "status": status})
    return rows


@ui_route
async def index(request: Request) -> Response:
    gw = gateway(request)
    tenant = tenant_of(gw, request)
    if tenant is None:
        tenants = await gw.model(TenantList, "listTenants")
        return render(request, gw.services, "tenants.html", {"tenants": tenants.tenants}, session=gw.session)
    context = {
        "tenant": tenant,
        "rows": await provider_rows(gw, tenant),
        "type_forms": await type_forms(gw),
        "presets": (await gw.model(PresetList, "listSchedulePresets")).presets,
    }
    return render(request, gw.services, "list.html", context, session=gw.session)


@ui_route
async def rows_fragment(request: Request) -> Response:
    gw = gateway(request)
    tenant = tenant_of(gw, request)
    if tenant is None:
        raise ApiError(422, "choose a tenant")
    rows = await provider_rows(gw, tenant)
    active = any(r["status"].is_running for r in rows)
    return fragment("_rows.html", {"rows": rows, "tenant": tenant}, headers={"X-Live-Active": _flag(active)})


@ui_route
async def new_provider_page(request: Request) -> Response:
    gw = gateway(request)
    tenant = tenant_of(gw, request)
    if tenant is None:
        return RedirectResponse(PREFIX, status_code=303)
    context: dict[str, Any] = {
        "tenant": tenant,
        "type_forms": await type_forms(gw),
        "presets": (await gw.model(PresetList, "listSchedulePresets")).presets,
        "values": {},
        "errors": {},
        "test": None,
    }
    return render(request, gw.services, "add_provider.html", context, session=gw.session)


async def health(gw: Gateway, provider_id: str) -> present.Health:
    """The last 30 days' runs in figures (the 100 newest runs at most: enough for hourly syncs)."""
    runs = await gw.model(RunList, "listRuns", providerId=provider_id, query={"limit": 100})
    return present.health(runs.runs)


async def provider_context(gw: Gateway, provider_id: str, offset: int) -> dict[str, Any]:
    provider = await gw.model(Provider, "getProvider", providerId=provider_id)
    status = await gw.model(SyncStatusOut, "syncStatus", providerId=provider_id)
    runs = await gw.model(RunList, "listRuns", providerId=provider_id, query={"limit": RUNS_PER_PAGE, "offset": offset})
    recent = runs if offset == 0 else await gw.model(RunList, "listRuns", providerId=provider_id, query={"limit": 30})
    return {
        "provider": provider,
        "status": status,
        "health": await health(gw, provider_id),
        "runs": runs,
        "chart": present.chart(recent.runs, provider.schedule_timezone),
        "phases": present.phases(status.progress, status.phase),
        "offset": offset,
        "per_page": RUNS_PER_PAGE,
    }


def _offset(request: Request, name: str = "offset") -> int:
    raw = request.query_params.get(name, "0")
    return int(raw) if raw.isdigit() and int(raw) < 1_000_000 else 0


@ui_route
async def provider_page(request: Request) -> Response:
    return await provider_page_response(request, gateway(request), request.path_params["providerId"])


async def provider_page_response(
    request: Request, gw: Gateway, provider_id: str, *, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """The provider page; `extra` replaces parts of its context (a refused form shown again)."""
    context = await provider_context(gw, provider_id, _offset(request))
    provider: Provider = context["provider"]
    context["presets"] = (await gw.model(PresetList, "listSchedulePresets")).presets
    context["preview"] = await preview(gw, provider.sync_schedule, provider.schedule_timezone)
    context.update(forms.edit_context(await type_form_of(gw, provider.provider_type.value), provider))
    context.update(options.context(provider.options))
    # a run held for review is the first thing on the page
    context.update(review.held_context(next((r for r in context["runs"].runs if r.status.value == "HELD"), None)))
    context.update(extra or {})
    return render(request, gw.services, "provider.html", context, session=gw.session, status=status)


@ui_route
async def status_fragment(request: Request) -> Response:
    gw = gateway(request)
    provider_id = request.path_params["providerId"]
    status = await gw.model(SyncStatusOut, "syncStatus", providerId=provider_id)
    provider = await gw.model(Provider, "getProvider", providerId=provider_id)
    context = {
        "provider": provider,
        "status": status,
        "health": await health(gw, provider_id),
        "phases": present.phases(status.progress, status.phase),
        "timezone": provider.schedule_timezone,
    }
    key = f"{status.run_id or ''}|{status.last_status or ''}|{status.last_sync or ''}"
    return fragment("_status.html", context, headers={"X-Live-Active": _flag(status.is_running), "X-Live-Key": key})


def _flag(value: bool) -> str:
    return "true" if value else "false"


@ui_route
async def history_fragment(request: Request) -> Response:
    gw = gateway(request)
    context = await provider_context(gw, request.path_params["providerId"], _offset(request))
    return fragment("_history.html", context)


async def preview(gw: Gateway, cron: str | None, timezone: str) -> dict[str, Any]:
    if not cron:
        return {"preview": None, "error": None, "words": present.schedule_words(None)}
    try:
        result = await gw.model(SchedulePreview, "previewSchedule", query={"cron": cron, "timezone": timezone})
    except ApiError as exc:
        if exc.status != 422:
            raise
        messages = [e["detail"] for e in exc.errors or []] or [exc.detail]
        return {"preview": None, "error": "; ".join(messages), "words": None}
    return {"preview": result, "error": None, "words": present.schedule_words(result.cron)}


@ui_route
async def preview_fragment(request: Request) -> Response:
    gw = gateway(request)
    choice = request.query_params.get("schedule", "")
    cron = request.query_params.get("cron", "") if choice == "custom" else choice
    timezone = request.query_params.get("timezone", "") or "UTC"
    if choice == "none":
        cron = ""
    return fragment("_preview.html", await preview(gw, cron or None, timezone))


@ui_route
async def run_page(request: Request) -> Response:
    gw = gateway(request)
    run_id = request.path_params["runId"]
    run = await gw.model(RunDetail, "getRun", runId=run_id)
    offset = _offset(request, "errors")
    errors = await gw.model(
        SyncErrorList, "runErrors", runId=run_id, query={"limit": ERRORS_PER_PAGE, "offset": offset}
    )
    provider = await gw.model(Provider, "getProvider", providerId=run.provider_id)
    groups = await gw.model(ErrorGroupList, "runErrorGroups", runId=run_id)
    context = {
        "run": run,
        "provider": provider,
        "errors": errors,
        "groups": groups.groups,
        "explain": errorcodes.explain,
        "entity_words": errorcodes.entity_words,
        "field_words": errorcodes.field_words,
        "offset": offset,
        "per_page": ERRORS_PER_PAGE,
        "phases": present.phases(run.progress, run.phase),
        "csv_url": f"{PREFIX}/runs/{run.id}/errors.csv",
        "errors_url": f"{PREFIX}/runs/{run.id}/errors",
        **await undo.context(gw, run),
    }
    return render(request, gw.services, "run.html", context, session=gw.session)


@ui_route
async def errors_page(request: Request) -> Response:
    """A run's errors grouped by cause (code and entity type), then the records, filtered and searched."""
    gw = gateway(request)
    run_id = request.path_params["runId"]
    run = await gw.model(RunDetail, "getRun", runId=run_id)
    provider = await gw.model(Provider, "getProvider", providerId=run.provider_id)
    groups = await gw.model(ErrorGroupList, "runErrorGroups", runId=run_id)
    chosen = {
        "code": request.query_params.get("code", "")[:64],
        "entityType": request.query_params.get("entityType", "")[:32],
        "q": request.query_params.get("q", "").strip()[:200],
    }
    offset = _offset(request)
    query: dict[str, Any] = {"limit": ERRORS_PER_PAGE, "offset": offset} | {k: v for k, v in chosen.items() if v}
    errors = await gw.model(SyncErrorList, "runErrors", runId=run_id, query=query)
    base = {k: v for k, v in chosen.items() if v}
    context = {
        "run": run,
        "provider": provider,
        "groups": groups.groups,
        "total": groups.total,
        "errors": errors,
        "chosen": chosen,
        "filtered": bool(base),
        "codes": sorted({g.code for g in groups.groups}),
        "entity_types": sorted({g.entity_type for g in groups.groups if g.entity_type}),
        "explain": errorcodes.explain,
        "entity_words": errorcodes.entity_words,
        "field_words": errorcodes.field_words,
        "offset": offset,
        "per_page": ERRORS_PER_PAGE,
        "page_url": lambda at: "?" + urlencode(base | ({"offset": at} if at else {})),
        "group_url": lambda code, entity: "?" + urlencode({"code": code} | ({"entityType": entity} if entity else {})),
        "csv_url": f"{PREFIX}/runs/{run.id}/errors.csv",
    }
    return render(request, gw.services, "errors.html", context, session=gw.session)


@ui_route
async def errors_csv(request: Request) -> Response:
    gw = gateway(request)
    result = await gw.call("runErrors", runId=request.path_params["runId"], query={"format": "csv"})
    if not isinstance(result, Response):
        raise TypeError("runErrors with format=csv answers a response")
    return result


def list_url(tenant: str) -> str:
    return f"{PREFIX}?{urlencode({'tenant': tenant})}"


@ui_route
async def fleet_page(request: Request) -> Response:
    """Every tenant's providers for platform admins, worst state first: failing, stale, held, paused."""
    gw = gateway(request)
    if not gw.principal.is_platform_admin:
        raise ApiError(403, "the fleet page is for platform admins")
    tenants = await gw.model(TenantList, "listTenants")
    rows = []
    for tenant in tenants.tenants:
        for row in await provider_rows(gw, tenant.tenant_id):
            p, s = row["provider"], row["status"]
            last = s.last_status.value if s.last_status else None
            row["state"] = present.provider_state(p.enabled, p.stale_since, last, s.status.value if s.status else None)
            rows.append(row)
    order = list(present.STATES)
    rows.sort(key=lambda r: (order.index(r["state"]), r["provider"].tenant_id, r["provider"].name.lower()))
    counts = {state: sum(r["state"] == state for r in rows) for state in order}
    chosen = {
        "state": request.query_params.get("state", ""),
        "type": request.query_params.get("type", ""),
        "q": request.query_params.get("q", "").strip()[:200],
    }
    shown = [
        r
        for r in rows
        if (not chosen["state"] or r["state"] == chosen["state"])
        and (not chosen["type"] or r["provider"].provider_type.value == chosen["type"])
        and (
            not chosen["q"]
            or chosen["q"].lower() in r["provider"].name.lower()
            or chosen["q"].lower() in r["provider"].tenant_id.lower()
        )
    ]
    context = {
        "rows": shown,
        "all_count": len(rows),
        "counts": counts,
        "chosen": chosen,
        "filtered": any(chosen.values()),
        "types": sorted({r["provider"].provider_type.value for r in rows}),
        "tenant_count": len(tenants.tenants),
        "state_url": lambda state: "?" + urlencode({k: v for k, v in (chosen | {"state": state}).items() if v}),
    }
    return render(request, gw.services, "fleet.html", context, session=gw.session)
