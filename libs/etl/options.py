"""Per-provider sync options (stored in `sis_providers.options`, camelCase as the API speaks).

They decide how a run matches, creates and deactivates; the API validates them with this
model and the engine reads them through it, so both agree on names and defaults.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProviderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    # create a roster user when no existing user matches (by link, email or student number)
    create_users: bool = Field(default=True, alias="createUsers")
    # a run may deactivate at most this share (percent) of an entity type's active links;
    # above it nothing of that type is deactivated and the run ends PARTIAL
    deactivation_threshold_percent: float = Field(default=20.0, ge=0, le=100, alias="deactivationThresholdPercent")
    # below this many active links the percentage guard does not apply (tiny districts churn a lot)
    deactivation_guard_minimum: int = Field(default=50, ge=0, le=10_000_000, alias="deactivationGuardMinimum")
    # let schools of this provider match existing schools of the tenant by number / state id
    match_schools_by: list[Literal["school_number", "state_id"]] = Field(
        default_factory=list, alias="matchSchoolsBy", max_length=2
    )
    # use the source's change feed (Clever events, OneRoster dateLastModified) between full syncs
    incremental: bool = False
    # with incremental on, run a full reconciliation at least this often
    full_sync_every_days: int = Field(default=7, ge=1, le=365, alias="fullSyncEveryDays")
    # announce provider.stale when no sync succeeded for this long; None: 36 hours for a provider
    # with a schedule, off for a manual one (libs/webhooks/stale.py); 0: off
    alert_after_hours: int | None = Field(default=None, ge=0, le=8760, alias="alertAfterHours")

    # when a run waits for an admin's approval before it writes: `onGuard` when a deactivation
    # guard trips (the run ends HELD with its plan), `always` (every run), `never` (apply what is
    # safe, hold back what tripped, end PARTIAL)
    require_approval: Literal["onGuard", "always", "never"] = Field(default="onGuard", alias="requireApproval")

    @classmethod
    def from_stored(cls, value: dict[str, Any] | None) -> ProviderOptions:
        return cls.model_validate(value or {})

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)
