"""What forms and pickers need: schedule presets and previews, tenants, provider types."""

from __future__ import annotations

from sqlalchemy import text

from libs.connectors import registry
from libs.etl import schedule
from libs.providers import configs
from services.api.endpoint import Call, operation
from services.api.problems import field_error, invalid
from services.api.schemas import (
    PresetList,
    PresetOut,
    PreviewQuery,
    ProviderTypeInfo,
    ProviderTypeList,
    SchedulePreview,
    TenantList,
    TenantOut,
)

TAG = "reference"


@operation(
    "GET", "/api/v1/schedule-presets", summary="The schedule presets", tag=TAG, response=PresetList, errors=(401, 403)
)
def list_schedule_presets(call: Call) -> PresetList:
    return PresetList(
        presets=[PresetOut(name=p.name, cron=p.cron, description=p.description) for p in schedule.PRESETS.values()]
    )


@operation(
    "GET",
    "/api/v1/schedule/preview",
    summary="The next run times of a cron expression or preset in a time zone",
    tag=TAG,
    response=SchedulePreview,
    query=PreviewQuery,
    errors=(401, 403, 422),
)
def preview_schedule(call: Call) -> SchedulePreview:
    query: PreviewQuery = call.query
    errors = []
    resolved = tz = None
    try:
        resolved = schedule.resolve(query.cron)
    except schedule.ScheduleError as exc:
        errors.append(field_error(["query", "cron"], str(exc)))
    try:
        tz = schedule.zone(query.timezone)
    except schedule.ScheduleError as exc:
        errors.append(field_error(["query", "timezone"], str(exc)))
    if errors or resolved is None or tz is None:
        raise invalid(errors)
    try:
        fires = schedule.preview(resolved.cron, tz, schedule.utcnow(), query.count)
    except schedule.ScheduleError as exc:
        raise invalid([field_error(["query", "cron"], str(exc))]) from None
    return SchedulePreview(
        cron=resolved.cron,
        preset=resolved.preset,
        timezone=query.timezone,
        next_runs=[f.at for f in fires],
        next_runs_local=[f.at.astimezone(tz).isoformat() for f in fires],
    )


@operation(
    "GET",
    "/api/v1/tenants",
    summary="Tenants that have providers (a district admin sees their own)",
    tag=TAG,
    response=TenantList,
    errors=(401, 403),
)
def list_tenants(call: Call) -> TenantList:
    scope = "" if call.principal.is_platform_admin else "AND tenant_id = :t"
    with call.services.engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT tenant_id, count(*) AS n FROM sis_providers WHERE deleted_at IS NULL {scope} "
                "GROUP BY tenant_id ORDER BY tenant_id"
            ),
            {"t": call.principal.tenant_id},
        ).all()
    tenants = [TenantOut(tenant_id=r.tenant_id, provider_count=r.n) for r in rows]
    if not call.principal.is_platform_admin and not tenants and call.principal.tenant_id:
        tenants = [TenantOut(tenant_id=call.principal.tenant_id, provider_count=0)]
    return TenantList(tenants=tenants)


@operation(
    "GET",
    "/api/v1/provider-types",
    summary="Provider types this build supports, with their config JSON schema and secret fields",
    tag=TAG,
    response=ProviderTypeList,
    errors=(401, 403),
)
def list_provider_types(call: Call) -> ProviderTypeList:
    items = []
    for provider_type in registry.supported_types():
        model = configs.config_model(provider_type)
        if model is None:
            continue
        items.append(
            ProviderTypeInfo(
                provider_type=provider_type,
                config_schema=model.model_json_schema(by_alias=True),
                secret_fields=configs.secret_paths(provider_type) or [],
            )
        )
    return ProviderTypeList(provider_types=items)
