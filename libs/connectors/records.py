"""The canonical roster records every connector yields (see docs/canonical-model.md).

Plain slotted dataclasses rather than pydantic models: a large district yields millions of
records, and per-row validation costs as much as the whole database load. Values are already
typed (dates are `date`, flags are `bool`, lists are tuples); connectors normalise, the stage
phase validates in SQL.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar

from libs.enums import EntityType


@dataclass(slots=True, kw_only=True)
class Record:
    """Fields shared by every record: identity, provenance, and the delete marker of deltas."""

    entity_type: ClassVar[EntityType]
    # the fields that make up the record's content (and its hash), in column order
    content_fields: ClassVar[tuple[str, ...]]

    external_id: str
    # True for a delta row that says "this record is gone" (OneRoster tobedeleted, Clever *.deleted)
    tombstone: bool = False
    # where it came from, for error reports: "users.csv:12" or "GET /v3.0/users page 4"
    source_ref: str | None = None
    # the source object as received, for debugging and for fields the model does not map
    raw: dict[str, Any] | None = None

    def content(self) -> tuple[Any, ...]:
        content: tuple[Any, ...] = _CONTENT_GETTERS[type(self)](self)
        return content

    def row_hash(self, content: tuple[Any, ...] | None = None) -> bytes:
        """A digest of the content: equal hashes mean nothing a roster consumer sees changed.

        The repr of a tuple of str, None, bool, date and tuples is exact and stable, and
        computed in C, which matters at millions of records per run.
        """
        text = repr(self.content() if content is None else content)
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _content(cls: type[Record]) -> tuple[str, ...]:
    base = {f.name for f in fields(Record)}
    return tuple(f.name for f in fields(cls) if f.name not in base)


@dataclass(slots=True, kw_only=True)
class School(Record):
    entity_type = EntityType.SCHOOL
    name: str | None = None
    school_number: str | None = None
    state_id: str | None = None
    nces_id: str | None = None
    low_grade: str | None = None
    high_grade: str | None = None


@dataclass(slots=True, kw_only=True)
class Term(Record):
    entity_type = EntityType.TERM
    name: str | None = None
    # school_year, semester, term, grading_period
    type: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    parent_external_id: str | None = None
    school_year: str | None = None


@dataclass(slots=True, kw_only=True)
class Class(Record):
    entity_type = EntityType.CLASS
    school_external_id: str | None = None
    title: str | None = None
    class_code: str | None = None
    course_external_id: str | None = None
    course_code: str | None = None
    course_title: str | None = None
    term_external_ids: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    location: str | None = None


@dataclass(slots=True, kw_only=True)
class User(Record):
    entity_type = EntityType.USER
    # student, teacher, staff, administrator, aide
    role: str | None = None
    given_name: str | None = None
    middle_name: str | None = None
    family_name: str | None = None
    # as given (for display); matching lower-cases it
    email: str | None = None
    username: str | None = None
    sis_id: str | None = None
    student_number: str | None = None
    state_id: str | None = None
    grades: tuple[str, ...] = ()
    school_external_ids: tuple[str, ...] = ()
    primary_school_external_id: str | None = None
    enabled: bool = True


@dataclass(slots=True, kw_only=True)
class Enrollment(Record):
    entity_type = EntityType.ENROLLMENT
    class_external_id: str | None = None
    user_external_id: str | None = None
    school_external_id: str | None = None
    # student, teacher, aide, administrator
    role: str | None = None
    primary: bool = False
    begin_date: date | None = None
    end_date: date | None = None


# attrgetter of each type's content fields: C speed on the hot path
_CONTENT_GETTERS: dict[type[Record], Callable[[Any], Any]] = {}
for _cls in (School, Term, Class, User, Enrollment):
    _cls.content_fields = _content(_cls)
    _CONTENT_GETTERS[_cls] = operator.attrgetter(*_cls.content_fields)

RECORD_TYPES: dict[EntityType, type[Record]] = {cls.entity_type: cls for cls in (School, Term, Class, User, Enrollment)}

USER_ROLES = ("student", "teacher", "staff", "administrator", "aide")
ENROLLMENT_ROLES = ("student", "teacher", "aide", "administrator")
TERM_TYPES = ("school_year", "semester", "term", "grading_period")


@dataclass(slots=True, kw_only=True)
class RecordError:
    """A source row or object that could not become a record (or is suspicious).

    When `external_id` is known the stage phase keeps the id "present" so that a row with a
    bad date is never mistaken for a row that left the SIS.
    """

    entity_type: EntityType | None
    code: str
    message: str
    external_id: str | None = None
    source: str | None = None
    line: int | None = None
    field: str | None = None
    raw: dict[str, Any] | None = None


Item = Record | RecordError


def split_multi(value: str | None) -> tuple[str, ...]:
    """OneRoster-style multi-value cell: comma-separated, spaces trimmed, empties dropped."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def as_tuple(values: Sequence[str | None] | None) -> tuple[str, ...]:
    if not values:
        return ()
    return tuple(v for v in values if v)


__all__ = [
    "ENROLLMENT_ROLES",
    "RECORD_TYPES",
    "TERM_TYPES",
    "USER_ROLES",
    "Class",
    "Enrollment",
    "Item",
    "Record",
    "RecordError",
    "School",
    "Term",
    "User",
    "as_tuple",
    "split_multi",
]
