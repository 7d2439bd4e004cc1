"""Staging tables `sis_raw_*`: what a run read, before it is applied.

UNLOGGED (no WAL: a crash loses only staging, which a re-run rebuilds) and without primary
keys, because a feed may repeat an external id and the stage phase must see that to report it.
Rows are keyed by (run_id, external_id) through a plain index. Columns set by the stage phase:
`status` (NULL = valid, else invalid/duplicate/ambiguous/...), `action` (create, update,
reactivate; NULL for an unchanged valid row, so a no-change re-sync rewrites nothing) and
`entity_id` (the roster entity the row applies to).

`sis_held_*` keep the plan of a HELD run (libs/etl/held.py): the same columns, logged, so a
plan waiting for approval survives a Postgres restart that empties the UNLOGGED staging. They
hold only the planned rows (action set) and the planned deactivations (action 'deactivate'),
never the unchanged ones, and are emptied when the run is decided or expires.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    LargeBinary,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from libs.db.models.base import Base
from libs.enums import EntityType


def _common() -> list[Column[Any]]:
    return [
        Column("run_id", UUID(as_uuid=True), nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("external_id", Text, nullable=True),
        Column("tombstone", Boolean, nullable=False, server_default=text("false")),
        Column("source_ref", Text),
        Column("row_hash", LargeBinary),
        Column("raw", JSONB),
        Column("status", Text),
        Column("action", Text),
        Column("entity_id", UUID(as_uuid=True)),
        Column("matched_by", Text),
        Column("error", Text),
    ]


def _staging(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        Base.metadata,
        *_common(),
        *columns,
        Index(f"ix_{name}_run", "run_id", "external_id"),
        prefixes=["UNLOGGED"],
    )


def _text(name: str) -> Column[Any]:
    return Column(name, Text)


def _texts(name: str) -> Column[Any]:
    return Column(name, ARRAY(Text))


raw_schools = _staging(
    "sis_raw_schools",
    _text("name"),
    _text("school_number"),
    _text("state_id"),
    _text("nces_id"),
    _text("low_grade"),
    _text("high_grade"),
)

raw_terms = _staging(
    "sis_raw_terms",
    _text("name"),
    _text("type"),
    Column("start_date", Date),
    Column("end_date", Date),
    _text("parent_external_id"),
    _text("school_year"),
)

raw_classes = _staging(
    "sis_raw_classes",
    _text("school_external_id"),
    _text("title"),
    _text("class_code"),
    _text("course_external_id"),
    _text("course_code"),
    _text("course_title"),
    _texts("term_external_ids"),
    _texts("subjects"),
    _texts("grades"),
    _texts("periods"),
    _text("location"),
)

raw_users = _staging(
    "sis_raw_users",
    _text("role"),
    _text("given_name"),
    _text("middle_name"),
    _text("family_name"),
    _text("email"),
    _text("username"),
    _text("sis_id"),
    _text("student_number"),
    _text("state_id"),
    _texts("grades"),
    _texts("school_external_ids"),
    _text("primary_school_external_id"),
    Column("enabled", Boolean),
)

raw_enrollments = _staging(
    "sis_raw_enrollments",
    _text("class_external_id"),
    _text("user_external_id"),
    _text("school_external_id"),
    _text("role"),
    Column("is_primary", Boolean),
    Column("begin_date", Date),
    Column("end_date", Date),
)

STAGING_TABLES: dict[EntityType, Table] = {
    EntityType.SCHOOL: raw_schools,
    EntityType.TERM: raw_terms,
    EntityType.CLASS: raw_classes,
    EntityType.USER: raw_users,
    EntityType.ENROLLMENT: raw_enrollments,
}


def _held(raw: Table) -> Table:
    name = raw.name.replace("sis_raw_", "sis_held_")
    columns = [Column(c.name, c.type, nullable=c.nullable, server_default=c.server_default) for c in raw.columns]
    return Table(name, Base.metadata, *columns, Index(f"ix_{name}_run", "run_id", "external_id"))


HELD_TABLES: dict[EntityType, Table] = {entity: _held(table) for entity, table in STAGING_TABLES.items()}
