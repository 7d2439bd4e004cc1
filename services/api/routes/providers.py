"""Provider management: list, create, read, update, delete."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, text

from libs.enums import ProviderType
from libs.etl import schedule
from libs.etl.options import ProviderOptions
from libs.etl.removal import deactivate_provider_entities
from services.api import audit, configs
from services.api.endpoint import Call, operation
from services.api.problems import ApiError, field_error, invalid, not_found
from services.api.schemas import (
    DeleteQuery,
    Provider,
    ProviderCreate,
    ProviderDeleted,
    ProviderList,
    ProvidersQuery,
    ProviderUpdate,
)
from services.api.security import check_visible, require_platform_admin, require_tenant

TAG = "providers"
_COLUMNS = (
    "id, tenant_id, provider_type, name, config_ciphertext, enabled, sync_schedule, schedule_timezone, "
    "next_run_at, last_sync_at, last_full_sync_at, options, created_at, updated_at, deleted_at"
)


def provider_out(call: Call, row: Any) -> Provider:
    provider_type = ProviderType(row.provider_type)
    config = configs.decrypt(call.services.cipher, row.id, row.config_ciphertext)
    return Provider(
        id=row.id,
        tenant_id=row.tenant_id,
        provider_type=provider_type,
        name=row.name,
        config=configs.masked(provider_type, config),
        enabled=row.enabled,
        sync_schedule=row.sync_schedule,
        schedule_preset=schedule.preset_of(row.sync_schedule),
        schedule_timezone=row.schedule_timezone,
        next_run_at=row.next_run_at,
        last_sync_at=row.last_sync_at,
        last_full_sync_at=row.last_full_sync_at,
        options=ProviderOptions.from_stored(row.options),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
    )


def load_visible(call: Call, conn: Connection, provider_id: uuid.UUID, *, lock: bool = False) -> Any:
    """The provider row, or 404 when it does not exist or belongs to a tenant the caller cannot see."""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM sis_providers WHERE id = :id" + (" FOR UPDATE" if lock else "")),
        {"id": provider_id},
    ).first()
    if row is None:
        raise not_found("provider")
    check_visible(call.principal, row.tenant_id, deleted=row.deleted_at is not None, what="provider")
    return row


def load_active(call: Call, conn: Connection, provider_id: uuid.UUID, *, lock: bool = False) -> Any:
    row = load_visible(call, conn, provider_id, lock=lock)
    if row.deleted_at is not None:
        raise not_found("provider")
    return row


def _schedule(value: str | None, timezone: str) -> str | None:
    errors = []
    cron = None
    if value is not None:
        try:
            cron = schedule.resolve(value).cron
        except schedule.ScheduleError as exc:
            errors.append(field_error(["syncSchedule"], str(exc)))
    try:
        schedule.zone(timezone)
    except schedule.ScheduleError as exc:
        errors.append(field_error(["scheduleTimezone"], str(exc)))
    if errors:
        raise invalid(errors)
    return cron


@operation(
    "GET",
    "/api/v1/tenants/{tenantId}/providers",
    summary="List the providers of a tenant",
    tag=TAG,
    response=ProviderList,
    query=ProvidersQuery,
    errors=(401, 403, 404),
)
def list_providers(call: Call) -> ProviderList:
    tenant_id = call.path["tenantId"]
    require_tenant(call.principal, tenant_id)
    query: ProvidersQuery = call.query
    if query.include_deleted:
        require_platform_admin(call.principal)
    deleted = "" if query.include_deleted else "AND deleted_at IS NULL"
    with call.services.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {_COLUMNS} FROM sis_providers WHERE tenant_id = :t {deleted} ORDER BY created_at, id"),
            {"t": tenant_id},
        ).all()
    return ProviderList(providers=[provider_out(call, row) for row in rows])


@operation(
    "POST",
    "/api/v1/providers",
    summary="Create a provider",
    tag=TAG,
    response=Provider,
    status=201,
    body=ProviderCreate,
    errors=(400, 401, 403, 413, 415, 422),
)
def create_provider(call: Call) -> Provider:
    body: ProviderCreate = call.body
    require_tenant(call.principal, body.tenant_id)
    config = configs.validate(body.provider_type, body.config)
    cron = _schedule(body.sync_schedule, body.schedule_timezone)
    options = body.options or ProviderOptions()
    provider_id = uuid.uuid4()
    now = schedule.utcnow()
    next_run_at = schedule.first_run_at(cron, body.schedule_timezone, enabled=body.enabled, now=now)
    with call.services.engine.begin() as conn:
        row = conn.execute(
            text(
                f"""
                INSERT INTO sis_providers
                    (id, tenant_id, provider_type, name, config_ciphertext, enabled, sync_schedule,
                     schedule_timezone, next_run_at, options)
                VALUES (:id, :tenant, :type, :name, :config, :enabled, :cron, :tz, :next, CAST(:options AS jsonb))
                RETURNING {_COLUMNS}
                """
            ),
            {
                "id": provider_id,
                "tenant": body.tenant_id,
                "type": body.provider_type.value,
                "name": body.name,
                "config": call.services.cipher.encrypt(config, provider_id=str(provider_id)),
                "enabled": body.enabled,
                "cron": cron,
                "tz": body.schedule_timezone,
                "next": next_run_at,
                "options": options.model_dump_json(by_alias=True),
            },
        ).one()
        out = provider_out(call, row)
        audit.record(
            conn,
            call.principal,
            "provider.created",
            target_type="provider",
            target_id=provider_id,
            tenant_id=body.tenant_id,
            details={
                "name": body.name,
                "providerType": body.provider_type.value,
                "config": out.config,
                "enabled": body.enabled,
                "syncSchedule": cron,
                "scheduleTimezone": body.schedule_timezone,
                "options": options.to_stored(),
            },
        )
    return out


@operation(
    "GET",
    "/api/v1/providers/{providerId}",
    summary="Read a provider (secrets masked)",
    tag=TAG,
    response=Provider,
    errors=(401, 403, 404),
)
def get_provider(call: Call) -> Provider:
    with call.services.engine.connect() as conn:
        return provider_out(call, load_visible(call, conn, call.path["providerId"]))


@operation(
    "PATCH",
    "/api/v1/providers/{providerId}",
    summary="Change a provider; absent fields (and absent secrets) keep their value",
    tag=TAG,
    response=Provider,
    body=ProviderUpdate,
    errors=(400, 401, 403, 404, 413, 415, 422),
)
def update_provider(call: Call) -> Provider:
    body: ProviderUpdate = call.body
    given = body.model_fields_set
    for name in ("name", "enabled", "schedule_timezone", "options", "config"):
        if name in given and getattr(body, name) is None:
            raise invalid([field_error([_camel(name)], "may not be null")])
    with call.services.engine.begin() as conn:
        row = load_active(call, conn, call.path["providerId"], lock=True)
        provider_type = ProviderType(row.provider_type)
        changes: dict[str, Any] = {}
        details: dict[str, Any] = {}
        if body.name is not None:
            changes["name"] = details["name"] = body.name
        if body.config is not None:
            stored = configs.decrypt(call.services.cipher, row.id, row.config_ciphertext)
            config = configs.validate(provider_type, configs.merge_for_update(provider_type, body.config, stored))
            changes["config_ciphertext"] = call.services.cipher.encrypt(config, provider_id=str(row.id))
            details["config"] = configs.masked(provider_type, config)
        enabled = row.enabled if body.enabled is None else body.enabled
        timezone = body.schedule_timezone or row.schedule_timezone
        cron = row.sync_schedule
        if "sync_schedule" in given or "schedule_timezone" in given:
            cron = _schedule(body.sync_schedule if "sync_schedule" in given else row.sync_schedule, timezone)
            changes["sync_schedule"] = details["syncSchedule"] = cron
            changes["schedule_timezone"] = details["scheduleTimezone"] = timezone
        if body.enabled is not None:
            changes["enabled"] = details["enabled"] = enabled
        if {"sync_schedule", "schedule_timezone", "enabled"} & given:
            changes["next_run_at"] = schedule.first_run_at(cron, timezone, enabled=enabled, now=schedule.utcnow())
        if body.options is not None:
            merged = ProviderOptions.from_stored(row.options).model_dump(by_alias=True)
            merged.update(body.options.model_dump(by_alias=True, include=body.options.model_fields_set))
            try:
                options = ProviderOptions.model_validate(merged)
            except ValueError as exc:
                raise invalid([field_error(["options"], str(exc))]) from None
            changes["options"] = options.model_dump_json(by_alias=True)
            details["options"] = options.to_stored()
        if changes:
            assignments = ", ".join(
                f"{col} = CAST(:{col} AS jsonb)" if col == "options" else f"{col} = :{col}" for col in changes
            )
            row = conn.execute(
                text(f"UPDATE sis_providers SET {assignments}, updated_at = now() WHERE id = :id RETURNING {_COLUMNS}"),
                {**changes, "id": row.id},
            ).one()
            audit.record(
                conn,
                call.principal,
                "provider.updated",
                target_type="provider",
                target_id=row.id,
                tenant_id=row.tenant_id,
                details={"changed": sorted(_camel(k) for k in given), **details},
            )
        return provider_out(call, row)


@operation(
    "DELETE",
    "/api/v1/providers/{providerId}",
    summary="Delete a provider (refused while a sync is active)",
    tag=TAG,
    response=ProviderDeleted,
    query=DeleteQuery,
    errors=(401, 403, 404, 409),
)
def delete_provider(call: Call) -> ProviderDeleted:
    """The provider is soft-deleted, so its run history stays readable by platform admins.
    With deactivateEntities=true its links are deactivated, and every roster entity left
    without an active link is deactivated too; otherwise the roster is left as it is."""
    query: DeleteQuery = call.query
    with call.services.engine.begin() as conn:
        row = load_active(call, conn, call.path["providerId"], lock=True)
        active = conn.execute(
            text("SELECT id FROM sis_sync_runs WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"),
            {"p": row.id},
        ).first()
        if active is not None:
            raise ApiError(
                409,
                "a sync of this provider is active; cancel it or wait for it to finish before deleting",
                code="sync-active",
                runId=str(active.id),
            )
        conn.execute(
            text(
                "UPDATE sis_providers SET deleted_at = now(), enabled = false, next_run_at = NULL, "
                "updated_at = now() WHERE id = :id"
            ),
            {"id": row.id},
        )
        counts = deactivate_provider_entities(conn, row.id) if query.deactivate_entities else None
        audit.record(
            conn,
            call.principal,
            "provider.deleted",
            target_type="provider",
            target_id=row.id,
            tenant_id=row.tenant_id,
            details={"name": row.name, "deactivateEntities": query.deactivate_entities, "deactivated": counts},
        )
    return ProviderDeleted(id=row.id, deleted=True, deactivated=counts)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)
