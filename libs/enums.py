"""Enumerations shared by the connectors, the database, the engine and the API."""

from __future__ import annotations

from enum import StrEnum


class ProviderType(StrEnum):
    CLEVER = "CLEVER"
    CLASSLINK = "CLASSLINK"
    ONEROSTER_API = "ONEROSTER_API"
    ONEROSTER_CSV = "ONEROSTER_CSV"


class SyncStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILURE = "FAILURE"
    CANCELLED = "CANCELLED"
    # the run planned its changes and waits for an admin to approve or reject them; it wrote
    # nothing to the store and takes no concurrency slot (libs/etl/held.py)
    HELD = "HELD"

    @property
    def is_active(self) -> bool:
        return self in (SyncStatus.PENDING, SyncStatus.IN_PROGRESS)


ACTIVE_STATUSES = (SyncStatus.PENDING, SyncStatus.IN_PROGRESS)
# a run stopped here: HELD too, which goes on only when approved (as the same run)
FINAL_STATUSES = (SyncStatus.SUCCESS, SyncStatus.PARTIAL, SyncStatus.FAILURE, SyncStatus.CANCELLED, SyncStatus.HELD)


class RunKind(StrEnum):
    """A sync reads the source and applies it; an undo takes back what another run applied."""

    SYNC = "sync"
    UNDO = "undo"


class SyncTrigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"


class SyncMode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class EntityType(StrEnum):
    """Roster entity types, in the order they are loaded (a type only refers to earlier ones)."""

    SCHOOL = "school"
    TERM = "term"
    CLASS = "class"
    USER = "user"
    ENROLLMENT = "enrollment"

    @property
    def plural(self) -> str:
        return {"class": "classes"}.get(self.value, self.value + "s")


LOAD_ORDER = (EntityType.SCHOOL, EntityType.TERM, EntityType.CLASS, EntityType.USER, EntityType.ENROLLMENT)
