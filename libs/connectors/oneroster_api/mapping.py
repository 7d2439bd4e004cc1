"""OneRoster 1.1 JSON objects -> canonical records (docs/canonical-model.md, OneRoster table).

Plain functions on the hot path (a district has a million enrollments). Tolerant of what real
servers send: booleans as strings ("true", ClassLink) or numbers, hrefs pointing at other hosts
(never followed, only `sourcedId` is read), 1.2-style `roles[]` on v1p1 users, missing lists.
A value that cannot be read becomes a RecordError naming the field, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from libs.connectors.oneroster_vocabulary import (
    BOOLEANS,
    ENROLLMENT_ROLES,
    NON_ROSTER_ROLES,
    TERM_TYPES,
    TOMBSTONE_STATUSES,
    USER_ROLES,
)
from libs.connectors.records import RECORD_TYPES, Class, Enrollment, Item, Record, RecordError, School, Term, User
from libs.enums import EntityType


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def as_bool(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if value is True or value is False:
        return bool(value)
    if isinstance(value, int | float):
        return value != 0
    parsed = BOOLEANS.get(str(value).strip().lower())
    if parsed is not None:
        return parsed
    raise FieldError(field, f"{field} is not a boolean: {str(value)[:40]!r}")


def as_date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    text = value if type(value) is str else str(value)
    try:
        # a datetime where a date belongs ("2024-08-15T00:00:00Z") keeps its calendar date
        return date.fromisoformat(text[:10])
    except ValueError:
        raise FieldError(field, f"{field} is not a date: {text[:40]!r}") from None


def ref_id(value: Any) -> str | None:
    """The sourcedId of a GUIDRef ({href, sourcedId, type}); the href is deliberately ignored."""
    # JSON objects are dicts: an exact type check is several times cheaper than an ABC check
    if type(value) is dict:
        sid = value.get("sourcedId")
        if type(sid) is str:
            return sid or None
        return str(sid) if sid is not None else None
    if isinstance(value, str) and value:
        return value
    return None


def ref_ids(values: Any) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, Mapping):
        values = [values]
    out = []
    for value in values:
        sid = ref_id(value)
        if sid is not None:
            out.append(sid)
    return tuple(out)


def strings(values: Any) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, str):
        return tuple(part.strip() for part in values.split(",") if part.strip())
    return tuple(str(v) for v in values if v not in (None, ""))


def text(value: Any) -> str | None:
    if value is None:
        return None
    out = str(value).strip()
    return out or None


def is_deleted(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status")
    if status is None or status == "active":
        return False
    return isinstance(status, str) and status.lower() in TOMBSTONE_STATUSES


def school(obj: Mapping[str, Any]) -> School:
    return School(
        external_id=str(obj["sourcedId"]), name=text(obj.get("name")), school_number=text(obj.get("identifier"))
    )


def term(obj: Mapping[str, Any]) -> Term:
    kind = obj.get("type")
    mapped = TERM_TYPES.get(str(kind).lower()) if kind is not None else None
    if kind is not None and mapped is None:
        raise FieldError("type", f"unknown academicSession type {str(kind)[:40]!r}")
    year = obj.get("schoolYear")
    return Term(
        external_id=str(obj["sourcedId"]),
        name=text(obj.get("title")),
        type=mapped,
        start_date=as_date(obj.get("startDate"), "startDate"),
        end_date=as_date(obj.get("endDate"), "endDate"),
        parent_external_id=ref_id(obj.get("parent")),
        school_year=text(year.get("sourcedId") if isinstance(year, Mapping) else year),
    )


def class_(obj: Mapping[str, Any], courses: Mapping[str, tuple[str | None, str | None]]) -> Class:
    course_id = ref_id(obj.get("course"))
    title, code = courses.get(course_id, (None, None)) if course_id else (None, None)
    return Class(
        external_id=str(obj["sourcedId"]),
        school_external_id=ref_id(obj.get("school")),
        title=text(obj.get("title")),
        class_code=text(obj.get("classCode")),
        course_external_id=course_id,
        course_code=code,
        course_title=title,
        term_external_ids=ref_ids(obj.get("terms")),
        subjects=strings(obj.get("subjects")),
        grades=strings(obj.get("grades")),
        periods=strings(obj.get("periods")),
        location=text(obj.get("location")),
    )


def course_entry(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    return text(obj.get("title")), text(obj.get("courseCode"))


def _user_role(obj: Mapping[str, Any]) -> str | None:
    role = obj.get("role")
    if role:
        return str(role)
    # v1p2 shape on a v1p1 path: the primary entry of roles[]
    roles = obj.get("roles")
    if isinstance(roles, list) and roles:
        primary = next((r for r in roles if isinstance(r, Mapping) and r.get("roleType") == "primary"), roles[0])
        if isinstance(primary, Mapping) and primary.get("role"):
            return str(primary["role"])
    return None


def user(
    obj: Mapping[str, Any],
    schools: frozenset[str] | None,
    student_number_type: str | None,
) -> User | None:
    """None for people who are not roster users (guardians, parents, relatives)."""
    source_role = _user_role(obj)
    lowered = source_role.lower() if source_role else None
    if lowered in NON_ROSTER_ROLES:
        return None
    role = USER_ROLES.get(lowered) if lowered else None
    # a missing role passes on as null: stage refuses missing values, for every source alike
    if role is None and source_role:
        raise FieldError("role", f"unknown user role {str(source_role)[:40]!r}")
    orgs = ref_ids(obj.get("orgs"))
    if not orgs and obj.get("primaryOrg"):
        orgs = ref_ids(obj.get("primaryOrg"))
    if schools is not None:
        orgs = tuple(o for o in orgs if o in schools)
    identifier = text(obj.get("identifier"))
    student_number = None
    if role == "student":
        student_number = _user_id(obj.get("userIds"), student_number_type) if student_number_type else identifier
    return User(
        external_id=str(obj["sourcedId"]),
        role=role,
        given_name=text(obj.get("givenName")),
        middle_name=text(obj.get("middleName")),
        family_name=text(obj.get("familyName")),
        email=text(obj.get("email")),
        username=text(obj.get("username")),
        sis_id=identifier,
        student_number=student_number,
        grades=strings(obj.get("grades")),
        school_external_ids=orgs,
        primary_school_external_id=orgs[0] if orgs else None,
        enabled=as_bool(obj.get("enabledUser"), "enabledUser", True),
    )


def _user_id(values: Any, wanted: str) -> str | None:
    if not isinstance(values, list):
        return None
    for entry in values:
        if isinstance(entry, Mapping) and str(entry.get("type", "")).lower() == wanted.lower():
            return text(entry.get("identifier"))
    return None


def enrollment(obj: Mapping[str, Any]) -> Enrollment:
    source_role = obj.get("role")
    role = ENROLLMENT_ROLES.get(str(source_role).lower()) if source_role else None
    if role is None and source_role:
        raise FieldError("role", f"unknown enrollment role {str(source_role)[:40]!r}")
    return Enrollment(
        external_id=str(obj["sourcedId"]),
        class_external_id=ref_id(obj.get("class")),
        user_external_id=ref_id(obj.get("user")),
        school_external_id=ref_id(obj.get("school")),
        role=role,
        primary=as_bool(obj.get("primary"), "primary", False),
        begin_date=as_date(obj.get("beginDate"), "beginDate"),
        end_date=as_date(obj.get("endDate"), "endDate"),
    )


def convert(
    entity_type: EntityType,
    obj: Any,
    build: Callable[[Mapping[str, Any]], Record | None],
    *,
    delta: bool,
    source_ref: str,
) -> Item | None:
    """One source object -> a record, a tombstone, a RecordError, or None (skipped)."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return RecordError(
            entity_type=entity_type, code="not_an_object", message="expected a JSON object", source=source_ref
        )
    sid = obj.get("sourcedId")
    if sid in (None, ""):
        return RecordError(
            entity_type=entity_type,
            code="missing_id",
            message="object without a sourcedId",
            source=source_ref,
            raw=_without_secrets(obj),
        )
    if is_deleted(obj):
        # in a snapshot a deleted row simply is not present; in a delta it deactivates
        return RECORD_TYPES[entity_type](external_id=str(sid), tombstone=True, source_ref=source_ref) if delta else None
    try:
        record = build(obj)
    except FieldError as exc:
        return RecordError(
            entity_type=entity_type,
            code="invalid_value",
            message=str(exc),
            external_id=str(sid),
            source=source_ref,
            field=exc.field,
            raw=_without_secrets(obj),
        )
    if record is not None:
        record.source_ref = source_ref
        record.raw = _without_secrets(obj)
    return record


def _without_secrets(obj: Mapping[str, Any]) -> dict[str, Any]:
    # user objects carry `password` (and ClassLink sends it): raw payloads are stored for debugging
    raw = obj if isinstance(obj, dict) else dict(obj)
    raw.pop("password", None)
    return raw


__all__ = [
    "FieldError",
    "as_bool",
    "as_date",
    "class_",
    "convert",
    "course_entry",
    "enrollment",
    "is_deleted",
    "ref_id",
    "school",
    "term",
    "user",
]
