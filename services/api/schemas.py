"""Request and response bodies of the REST API (camelCase on the wire).

These models are the single source of truth: handlers validate with them, responses are
dumped from them, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from libs.enums import EntityType, ProviderType, RunKind, SyncMode, SyncStatus
from libs.etl import schedule
from libs.etl.details import RunStats
from libs.etl.options import ProviderOptions
from libs.text import Line, Text

TENANT_PATTERN = r"^[A-Za-z0-9._:-]+$"
# the server checks schedules and zones itself (with messages that say what is wrong); the schema
# states the same rules: the schedule grammar and the IANA zone names this server knows
Schedule = Annotated[str, Text(schedule.SCHEDULE_PATTERN), Field(max_length=120)]
TimeZone = Annotated[str, WithJsonSchema({"type": "string", "enum": sorted(schedule.zone_names())})]


def no_null(schema: dict[str, Any]) -> None:
    """A field that may be left out but not sent as null (the handler refuses it): no null in the schema."""
    options = [o for o in schema.pop("anyOf") if o.get("type") != "null"]
    schema.update(options[0])
    if schema.get("default", 0) is None:
        del schema["default"]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class QueryModel(BaseModel):
    # query strings may carry cache busters and the like; unknown parameters are ignored
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


# ---- providers -------------------------------------------------------------------------


class ProviderCreate(ApiModel):
    tenant_id: str = Field(min_length=1, max_length=128, pattern=TENANT_PATTERN)
    provider_type: ProviderType
    name: Line = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(
        description="Provider-specific settings; the shape per providerType is listed by GET /api/v1/provider-types"
    )
    enabled: bool = True
    sync_schedule: Schedule | None = Field(
        default=None, description="A five-field cron expression or a preset name (e.g. 'daily') that fires"
    )
    schedule_timezone: TimeZone = Field(default="UTC", description="IANA time zone the schedule runs in")
    options: ProviderOptions | None = None


class ProviderUpdate(ApiModel):
    """Every field is optional; absent fields keep their value, secret config fields too."""

    name: Line | None = Field(default=None, min_length=1, max_length=200, json_schema_extra=no_null)
    config: dict[str, Any] | None = Field(
        default=None,
        description="The new config. Secret fields that are absent, null or the mask keep the stored secret.",
        json_schema_extra=no_null,
    )
    enabled: bool | None = Field(default=None, json_schema_extra=no_null)
    sync_schedule: Schedule | None = Field(default=None, description="null removes the schedule")
    schedule_timezone: TimeZone | None = Field(default=None, json_schema_extra=no_null)
    options: ProviderOptions | None = Field(
        default=None, description="Only the options given change", json_schema_extra=no_null
    )


class Provider(ApiModel):
    id: uuid.UUID
    tenant_id: str
    provider_type: ProviderType
    name: str
    config: dict[str, Any] = Field(
        description="Secret fields are masked ('********' or null) and flagged by has<Field> beside them"
    )
    enabled: bool
    sync_schedule: str | None
    schedule_preset: str | None
    schedule_timezone: str
    next_run_at: datetime | None
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    options: ProviderOptions
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    stale_since: datetime | None = Field(
        default=None, description="set while no sync succeeded within options.alertAfterHours (provider.stale)"
    )


class ProviderList(ApiModel):
    providers: list[Provider]


class ProvidersQuery(QueryModel):
    include_deleted: bool = Field(default=False, description="platform admins only: also list deleted providers")


class DeleteQuery(QueryModel):
    deactivate_entities: bool = Field(
        default=False,
        description="true: deactivate this provider's links and every roster entity left without an active link",
    )


class ProviderDeleted(ApiModel):
    id: uuid.UUID
    deleted: bool
    deactivated: dict[str, int] | None = Field(description="counts per table when deactivateEntities=true")


class ProviderTypeInfo(ApiModel):
    provider_type: ProviderType
    config_schema: dict[str, Any]
    secret_fields: list[str]


class ProviderTypeList(ApiModel):
    provider_types: list[ProviderTypeInfo]


# ---- sync --------------------------------------------------------------------------------


class SyncRequest(ApiModel):
    mode: Literal["full", "incremental", "preview"] | None = Field(
        default=None,
        description="Default: incremental when the provider's options allow it, else full. preview: extract and "
        "plan, then hold for review whatever the guards say (nothing is written until approved)",
    )
    allow_mass_deactivation: bool = Field(
        default=False, description="Apply deactivations a guard would hold back (after checking the source)"
    )


class SyncAccepted(ApiModel):
    run_id: uuid.UUID
    status: SyncStatus
    mode: SyncMode
    preview: bool = False


class CancelAccepted(ApiModel):
    run_id: uuid.UUID
    status: SyncStatus


class RunStep(ApiModel):
    step: str
    status: str
    records: int
    detail: dict[str, Any]
    started_at: datetime | None
    finished_at: datetime | None


class Progress(ApiModel):
    steps_total: int
    steps_done: int
    steps_failed: int
    records: int
    steps: list[RunStep]


class SyncStatusOut(ApiModel):
    is_running: bool
    last_sync: datetime | None = Field(description="when the last finished run ended")
    last_status: SyncStatus | None
    last_successful_sync: datetime | None
    next_run_at: datetime | None
    run_id: uuid.UUID | None = Field(description="the active run, if any")
    status: SyncStatus | None
    phase: str | None
    started_at: datetime | None
    cancel_requested: bool
    progress: Progress | None
    waiting_for: str | None = Field(
        default=None, description='what a PENDING run waits for, e.g. "a free slot (2 of 2 in use)"'
    )
    last_progress_at: datetime | None = Field(
        default=None, description="when the active run last reported progress (its heartbeat or a new phase)"
    )
    resend_after_seconds: float | None = Field(
        default=None, description="how long a quiet run may go before the scheduler re-sends its phase message"
    )


class RunSummary(ApiModel):
    id: uuid.UUID
    provider_id: uuid.UUID
    tenant_id: str
    status: SyncStatus
    trigger: Literal["manual", "schedule"]
    is_manual: bool
    mode: SyncMode
    requested_by: str | None
    requested_at: datetime
    schedule_slot: str | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    phase: str | None
    stats: RunStats = Field(
        description="per entity type: received = created + updated + unchanged + linked + reactivated + errors"
    )
    error_message: str | None
    error_count: int
    cancel_requested_at: datetime | None
    cancel_requested_by: str | None
    options: dict[str, Any]
    kind: RunKind = Field(
        default=RunKind.SYNC, description="sync: read the source and applied it; undo: took back another run"
    )
    undo_of: uuid.UUID | None = Field(default=None, description="an undo run: the run it takes back")
    undone_by: list[uuid.UUID] = Field(default_factory=list, description="the undo runs of this run")


class RunDetail(RunSummary):
    timings: dict[str, Any]
    source: dict[str, Any] = Field(description="what the run read: package, pages, requests, retries")
    steps: list[RunStep]
    progress: Progress


class RunList(ApiModel):
    runs: list[RunSummary]
    total: int
    limit: int
    offset: int


class RunsQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class SyncErrorOut(ApiModel):
    id: int
    entity_type: str | None
    external_id: str | None
    source: str | None
    line: int | None
    field: str | None
    code: str
    message: str
    created_at: datetime


class SyncErrorList(ApiModel):
    errors: list[SyncErrorOut]
    total: int
    limit: int
    offset: int


class ErrorsQuery(QueryModel):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=100_000_000)
    format: Literal["json", "csv"] = Field(default="json", description="csv: download every error of the run")
    code: Line | None = Field(default=None, max_length=64, description="only errors with this code")
    entity_type: Line | None = Field(default=None, max_length=32, description="only errors of this entity type")
    q: Line | None = Field(
        default=None, max_length=200, description="only errors whose external id, field or message contains this"
    )


class ErrorGroup(ApiModel):
    code: str
    entity_type: str | None
    count: int


class ErrorGroupList(ApiModel):
    groups: list[ErrorGroup] = Field(description="errors counted by code and entity type, largest first")
    total: int


class ChangesQuery(QueryModel):
    entity: EntityType | None = Field(default=None, description="only this entity type")
    action: Literal["create", "update", "reactivate", "link", "deactivate"] | None = None
    q: Line | None = Field(default=None, min_length=1, max_length=200, description="id, name or email contains")
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Line | None = Field(default=None, max_length=1000, description="nextCursor of the previous page")
    format: Literal["json", "csv"] = Field(default="json", description="csv: download every planned change")


class FieldChange(ApiModel):
    from_: Any = Field(default=None, alias="from")
    to: Any = None


class PlannedChange(ApiModel):
    entity_type: EntityType
    action: Literal["create", "update", "reactivate", "link", "deactivate"]
    external_id: str
    entity_id: uuid.UUID | None
    name: str | None = Field(description="a name to recognise the record by")
    changes: dict[str, FieldChange] = Field(
        description="per field, the store's value now and the planned one (updates, reactivations and links; "
        "a create's values come from null)"
    )


class ChangeList(ApiModel):
    changes: list[PlannedChange]
    plan: dict[str, dict[str, int]] = Field(description="per entity type (plural) and action, the whole plan")
    next_cursor: str | None


class Decided(ApiModel):
    run_id: uuid.UUID
    status: SyncStatus
    # false when this decision had already been taken (the answer repeats it)
    changed: bool


class UndoBody(ApiModel):
    force: bool = Field(
        default=False,
        description="also take back rows a later run changed (that run's values are lost); by default they are "
        "kept and reported as undo_conflict errors",
    )


class UndoAccepted(ApiModel):
    run_id: uuid.UUID = Field(description="the undo run")
    status: SyncStatus
    undo_of: uuid.UUID


class UndoCounts(ApiModel):
    restored: int = Field(description="store and link rows that get their values from before the run back")
    reactivated: int = Field(description="of the store rows restored, those the run had deactivated")
    deactivated: int = Field(description="store rows the run created, deactivated (never deleted)")
    conflicts: int = Field(description="rows a later run changed: kept unless forced")


class UndoConflict(ApiModel):
    entity_type: EntityType
    target: Literal["entity", "link"]
    key: str = Field(description="the store entity's id, or the link's external id")
    later_run_id: uuid.UUID


class UndoPreview(ApiModel):
    run_id: uuid.UUID
    entities: dict[str, UndoCounts] = Field(description="per entity type (plural)")
    conflicts: list[UndoConflict] = Field(description="the first rows a later run changed")


# ---- connection tests --------------------------------------------------------------------


class ConnectionTestResult(ApiModel):
    success: bool
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ConnectionTestSaved(ApiModel):
    config: dict[str, Any] | None = Field(
        default=None,
        description="Test edited settings; absent secrets use the stored ones unless a destination changes",
    )


class ConnectionTestUnsaved(ApiModel):
    tenant_id: str = Field(min_length=1, max_length=128, pattern=TENANT_PATTERN)
    provider_type: ProviderType
    config: dict[str, Any]


# ---- schedules and tenants ----------------------------------------------------------------


class PresetOut(ApiModel):
    name: str
    cron: str
    description: str


class PresetList(ApiModel):
    presets: list[PresetOut]


class PreviewQuery(QueryModel):
    cron: Schedule = Field(description="cron expression or preset name")
    timezone: TimeZone = "UTC"
    count: int = Field(default=5, ge=1, le=50)


class SchedulePreview(ApiModel):
    cron: str
    preset: str | None
    timezone: str
    next_runs: list[datetime]
    next_runs_local: list[str] = Field(description="the same instants as local wall-clock times")


class TenantOut(ApiModel):
    tenant_id: str
    provider_count: int


class TenantList(ApiModel):
    tenants: list[TenantOut]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None
