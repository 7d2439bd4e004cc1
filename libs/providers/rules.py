"""Creating, changing and deleting a provider: validation, sealing, schedule, audit.

Each function writes in the caller's transaction and records one audit entry for the change;
a refusal (`libs.providers.errors`) is raised before anything is written.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from pydantic.alias_generators import to_camel
from sqlalchemy import Connection

from libs import audit
from libs.auth import Principal
from libs.db.crypto import ConfigCipher
from libs.enums import ProviderType
from libs.etl import held, schedule
from libs.etl.options import ProviderOptions
from libs.providers import configs, store
from libs.providers.errors import InvalidProvider, SyncActive
from libs.providers.removal import deactivate_provider_entities
from libs.providers.store import StoredProvider


class Changes(TypedDict, total=False):
    """The fields that change (absent ones keep their value): `config` may leave out or mask its
    secrets, `options` holds only the options that change (by field name, e.g. `create_users`),
    and a None `sync_schedule` removes the schedule."""

    name: str
    config: dict[str, Any]
    enabled: bool
    sync_schedule: str | None
    schedule_timezone: str
    options: dict[str, Any]


def create(
    conn: Connection,
    cipher: ConfigCipher,
    actor: Principal,
    *,
    tenant_id: str,
    provider_type: ProviderType,
    name: str,
    config: dict[str, Any],
    enabled: bool = True,
    sync_schedule: str | None = None,
    schedule_timezone: str = "UTC",
    options: ProviderOptions | None = None,
) -> StoredProvider:
    """A new provider: its config validated and sealed, its schedule resolved (a preset name or
    a cron expression) with the first run it fires."""
    config = configs.validate(provider_type, config)
    cron = _cron(sync_schedule, schedule_timezone)
    options = options or ProviderOptions()
    provider_id = uuid.uuid4()
    provider = store.insert(
        conn,
        {
            "id": provider_id,
            "tenant_id": tenant_id,
            "provider_type": provider_type.value,
            "name": name,
            "config_ciphertext": cipher.encrypt(config, provider_id=str(provider_id)),
            "enabled": enabled,
            "sync_schedule": cron,
            "schedule_timezone": schedule_timezone,
            "next_run_at": schedule.first_run_at(cron, schedule_timezone, enabled=enabled, now=schedule.utcnow()),
            "options": options.model_dump_json(by_alias=True),
        },
    )
    details = {
        "name": name,
        "providerType": provider_type.value,
        "config": configs.masked(provider_type, config),
        "enabled": enabled,
        "syncSchedule": cron,
        "scheduleTimezone": schedule_timezone,
        "options": options.to_stored(),
    }
    _audit(conn, actor, "provider.created", provider, details)
    return provider


def update(
    conn: Connection, cipher: ConfigCipher, provider: StoredProvider, changes: Changes, actor: Principal
) -> StoredProvider:
    """`provider` (as `store.get(..., lock=True)` read it) with `changes` applied. A change of
    schedule, time zone or enabled counts the next run from now; no change, no write."""
    columns: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if "name" in changes:
        columns["name"] = details["name"] = changes["name"]
    if "config" in changes:
        config = configs.config_of(cipher, provider, changes["config"])
        columns["config_ciphertext"] = cipher.encrypt(config, provider_id=str(provider.id))
        details["config"] = configs.masked(ProviderType(provider.provider_type), config)
    enabled = changes.get("enabled", provider.enabled)
    timezone = changes.get("schedule_timezone") or provider.schedule_timezone
    cron = provider.sync_schedule
    if "sync_schedule" in changes or "schedule_timezone" in changes:
        cron = _cron(changes.get("sync_schedule", provider.sync_schedule), timezone)
        columns["sync_schedule"] = details["syncSchedule"] = cron
        columns["schedule_timezone"] = details["scheduleTimezone"] = timezone
    if "enabled" in changes:
        columns["enabled"] = details["enabled"] = enabled
    if changes.keys() & {"sync_schedule", "schedule_timezone", "enabled"}:
        columns["next_run_at"] = schedule.first_run_at(cron, timezone, enabled=enabled, now=schedule.utcnow())
    if "options" in changes:
        try:
            options = ProviderOptions.model_validate(
                {**ProviderOptions.from_stored(provider.options).model_dump(), **changes["options"]}
            )
        except ValueError as exc:
            raise InvalidProvider.field("options", msg=str(exc)) from None
        columns["options"] = options.model_dump_json(by_alias=True)
        details["options"] = options.to_stored()
    if not columns:
        return provider
    provider = store.change(conn, provider.id, columns)
    _audit(conn, actor, "provider.updated", provider, {"changed": sorted(map(to_camel, changes)), **details})
    return provider


def delete(
    conn: Connection, provider: StoredProvider, actor: Principal, *, deactivate_entities: bool
) -> dict[str, int] | None:
    """Soft-delete the provider (its run history stays readable), refused with SyncActive while
    a sync of it is pending or in progress. With `deactivate_entities` its links are deactivated,
    and every roster entity left without an active link (counts per table are returned);
    otherwise the roster stays as it is (None)."""
    run_id = store.active_run(conn, provider.id)
    if run_id is not None:
        raise SyncActive(run_id)
    store.soft_delete(conn, provider.id)
    # a plan waiting for review is of no use once its provider is gone
    held.end_held(conn, "provider_id = :p", {"p": provider.id}, "'Provider deleted'")
    counts = deactivate_provider_entities(conn, provider.id) if deactivate_entities else None
    details = {"name": provider.name, "deactivateEntities": deactivate_entities, "deactivated": counts}
    _audit(conn, actor, "provider.deleted", provider, details)
    return counts


def _cron(value: str | None, timezone: str) -> str | None:
    """The cron expression to store for a preset name or cron expression (None: no schedule),
    checked together with the time zone it runs in."""
    errors: list[dict[str, Any]] = []
    cron = None
    if value is not None:
        try:
            cron = schedule.resolve(value).cron
        except schedule.ScheduleError as exc:
            errors.append({"loc": ("syncSchedule",), "msg": str(exc)})
    try:
        schedule.zone(timezone)
    except schedule.ScheduleError as exc:
        errors.append({"loc": ("scheduleTimezone",), "msg": str(exc)})
    if errors:
        raise InvalidProvider(errors)
    return cron


def _audit(conn: Connection, actor: Principal, action: str, provider: StoredProvider, details: dict[str, Any]) -> None:
    target: dict[str, Any] = {"target_type": "provider", "target_id": provider.id, "tenant_id": provider.tenant_id}
    audit.record(conn, action=action, actor=actor.subject, details=details, **target)
