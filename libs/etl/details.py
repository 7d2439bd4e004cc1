"""The typed shapes of what a run keeps: each step's detail, the run's stats and its options.

Stored as JSON (`sis_sync_run_steps.detail`, `sis_sync_runs.stats` and `.options`) in the
camelCase the API shows; `to_json` is the one way out and `model_validate` the one way in, so a
reader never walks `.get(...) or {}` chains. Unknown keys are ignored on the way in: rows written
by an older version still read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from libs.enums import LOAD_ORDER, EntityType


def _camel(name: str, default: Any = None, *, factory: Any = None) -> Any:
    """A field kept under its camelCase name in JSON, set by its Python name in code."""
    if factory is not None:
        return Field(default_factory=factory, validation_alias=name, serialization_alias=name)
    return Field(default=default, validation_alias=name, serialization_alias=name)


class Detail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class RunOptions(Detail):
    """Per-run choices made when the run was requested."""

    # apply the deactivations a guard would hold back (a real rollover)
    allow_mass_deactivation: bool = _camel("allowMassDeactivation", False)
    # plan, then hold for review whatever the guards say (a dry run and a review in one)
    preview: bool = False
    # a HELD run resumed by this admin: it applies exactly its kept plan (libs/etl/held.py)
    approved_by: str | None = _camel("approvedBy", None)
    # an undo run: the run whose changes it takes back, and whether rows a later run changed
    # are taken back too (libs/etl/undo.py)
    undo_of: str | None = _camel("undoOf", None)
    force: bool = False

    def to_json(self) -> dict[str, Any]:
        # only what was chosen: a plain run keeps `{}`
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class PlanDetail(Detail):
    steps: list[str]


class FeedOutcome(Detail):
    """What an extract step says about one entity type's feed."""

    mode: str
    complete: bool = True
    message: str | None = None
    complete_classes: list[str] | None = _camel("completeClasses", None)


class ExtractDetail(Detail):
    """Written in two parts: the planned step (`step`, `ordinal`) when the run is planned, the
    rest when the step is done; each part carries only its own keys (`to_json` drops unset)."""

    step: dict[str, Any] | None = None
    ordinal: int | None = None
    outcomes: dict[EntityType, FeedOutcome] = Field(default_factory=dict)
    counts: dict[EntityType, int] = Field(default_factory=dict)
    # per entity type, or "package" for problems of the source as a whole
    errors: dict[str, int] = Field(default_factory=dict)
    errors_not_stored: int = _camel("errorsNotStored", 0)
    # record errors that name no id, so have no staging row (stage counts them received and rejected)
    unstaged: dict[EntityType, int] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Planned(Detail):
    """What stage planned for one entity type: every received record is unchanged, planned
    (create, update, reactivate, link) or rejected; tombstones are apart."""

    received: int = 0
    tombstones: int = 0
    unchanged: int = 0
    create: int = 0
    update: int = 0
    reactivate: int = 0
    matched_by_email: int = 0
    matched_by_student_number: int = 0
    link: int = 0
    rejected: int = 0
    # active links the run would deactivate (judged at stage, before anything is written)
    deactivate: int = 0


class StageDetail(Detail):
    entities: dict[EntityType, Planned] = Field(default_factory=dict)
    # why the run holds for review (a guard that tripped, a preview, requireApproval always)
    hold: list[str] = Field(default_factory=list)


class Applied(Detail):
    """What load wrote for one entity type."""

    created: int = 0
    updated: int = 0
    reactivated: int = 0
    matched_by_email: int = 0
    matched_by_student_number: int = 0
    matched_other: int = 0
    # planned creates rejected when users were matched again under the tenant's lock
    rejected: int = 0
    rows_written: int = _camel("rowsWritten", 0)

    @property
    def linked(self) -> int:
        return self.matched_by_email + self.matched_by_student_number + self.matched_other

    @property
    def applied(self) -> int:
        return self.created + self.updated + self.reactivated + self.linked


class LoadDetail(Detail):
    entities: dict[EntityType, Applied] = Field(default_factory=dict)


class Deactivated(Detail):
    deactivated: int = 0
    rows_written: int = _camel("rowsWritten", 0)


class HeldBack(Detail):
    entity: EntityType
    reason: str


class DeactivateDetail(Detail):
    entities: dict[EntityType, Deactivated] = Field(default_factory=dict)
    held_back: list[HeldBack] = _camel("heldBack", factory=list)
    rows_written: int = _camel("rowsWritten", 0)


class Undone(Detail):
    """What an undo did for one entity type (store rows and links together)."""

    # rows given back the values they had before the undone run
    restored: int = 0
    # of those, rows that had been deactivated and are active again
    reactivated: int = 0
    # rows the undone run created, now deactivated
    deactivated: int = 0
    # rows a later run changed, left alone (undo_conflict errors)
    conflicts: int = 0
    rows_written: int = _camel("rowsWritten", 0)


class UndoDetail(Detail):
    entities: dict[EntityType, Undone] = Field(default_factory=dict)


class FinalizeDetail(Detail):
    status: str


class EntityStats(Detail):
    """received = created + updated + unchanged + linked + reactivated + errors: each record the
    source sent (tombstones aside) is counted once. `linked` joined an existing record (by email,
    student number, or a school's number), `errors` were rejected; `deactivated` counts what the
    feed no longer has, so it is apart from the sum."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    matched_by_email: int = _camel("matchedByEmail", 0)
    matched_by_student_number: int = _camel("matchedByStudentNumber", 0)
    reactivated: int = 0
    errors: int = 0
    deactivated: int = 0


class RunStats(Detail):
    """What a run applied, per entity type (plural keys, as the API shows them)."""

    schools: EntityStats = Field(default_factory=EntityStats)
    terms: EntityStats = Field(default_factory=EntityStats)
    classes: EntityStats = Field(default_factory=EntityStats)
    users: EntityStats = Field(default_factory=EntityStats)
    enrollments: EntityStats = Field(default_factory=EntityStats)
    # every store and link row the run wrote
    rows_written: int = _camel("rowsWritten", 0)
    # errors of the source as a whole (a file that is missing, a header that is wrong)
    package_errors: int = _camel("packageErrors", 0)
    # what the source was asked, summed over the extract steps
    requests: dict[str, int | float] = Field(default_factory=dict)
    # the plan stage made: per entity type (plural), how many creates, updates, reactivations,
    # links and deactivations
    plan: dict[str, dict[str, int]] = Field(default_factory=dict)

    def of(self, entity: EntityType) -> EntityStats:
        value: EntityStats = getattr(self, entity.plural)
        return value

    @property
    def rejected(self) -> int:
        return sum(self.of(e).errors for e in LOAD_ORDER) + self.package_errors


ACTIONS = ("create", "update", "reactivate", "link", "deactivate")


def plan_counts(planned: dict[EntityType, Planned]) -> dict[str, dict[str, int]]:
    """`stats.plan`: per entity type (plural) and action, what the plan would change."""
    return {
        entity.plural: {action: int(getattr(planned.get(entity) or Planned(), action)) for action in ACTIONS}
        for entity in LOAD_ORDER
    }
