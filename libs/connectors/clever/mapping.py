"""Clever v3.0 objects -> canonical records (the table in docs/clever.md).

Plain functions on the hot path: a district yields millions of enrollments. Clever's `""` means
"unknown" (its enums allow it), so empty strings become None; nothing absent is invented.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from libs.connectors.records import Class, Enrollment, Item, RecordError, School, Term, User
from libs.enums import EntityType

# the roster role of a multi-role user is the highest it holds
ROLE_RANK = {"student": 0, "staff": 1, "teacher": 2}

# Clever's grade enum -> the CEDS codes OneRoster uses, so every provider speaks one vocabulary
CEDS_GRADES = {
    "InfantToddler": "IT",
    "Preschool": "PR",
    "PreKindergarten": "PK",
    "TransitionalKindergarten": "TK",
    "Kindergarten": "KG",
    **{str(n): f"{n:02d}" for n in range(1, 14)},
    "PostGraduate": "PS",
    "Ungraded": "UG",
    "Other": "Other",
}


def grade(value: Any) -> str | None:
    """A Clever grade as a CEDS code; a value outside Clever's enum is kept as sent."""
    found = text(value)
    return CEDS_GRADES.get(found, found) if found else None


def text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is not str:
        value = str(value)
    return None if value.isspace() else value


def _ids(values: Any) -> list[str]:
    return [str(v) for v in values if v] if isinstance(values, list) else []


def _one(value: Any) -> tuple[str, ...]:
    found = text(value)
    return (found,) if found else ()


def parse_date(value: Any) -> date | None:
    """Clever sends plain dates (`2012-08-01`) where its spec says datetime; accept both."""
    found = text(value)
    if found is None:
        return None
    return date.fromisoformat(found[:10])


def _missing_id(entity_type: EntityType, obj: Mapping[str, Any], ref: str) -> RecordError:
    return RecordError(
        entity_type=entity_type, code="missing_id", message="object has no id", source=ref, raw=dict(obj)
    )


def school(obj: dict[str, Any], ref: str) -> Item:
    external_id = text(obj.get("id"))
    if external_id is None:
        return _missing_id(EntityType.SCHOOL, obj, ref)
    return School(
        external_id=external_id,
        name=text(obj.get("name")),
        school_number=text(obj.get("school_number")) or text(obj.get("sis_id")),
        state_id=text(obj.get("state_id")),
        nces_id=text(obj.get("nces_id")),
        low_grade=grade(obj.get("low_grade")),
        high_grade=grade(obj.get("high_grade")),
        source_ref=ref,
        raw=obj,
    )


def term(obj: dict[str, Any], ref: str) -> Item:
    external_id = text(obj.get("id"))
    if external_id is None:
        return _missing_id(EntityType.TERM, obj, ref)
    dates: dict[str, date | None] = {}
    for field in ("start_date", "end_date"):
        try:
            dates[field] = parse_date(obj.get(field))
        except ValueError:
            return RecordError(
                entity_type=EntityType.TERM,
                code="invalid_date",
                message=f"{field} {obj.get(field)!r} is not a date",
                external_id=external_id,
                source=ref,
                field=field,
                raw=obj,
            )
    return Term(
        external_id=external_id,
        name=text(obj.get("name")),
        start_date=dates["start_date"],
        end_date=dates["end_date"],
        source_ref=ref,
        raw=obj,
    )


def section(obj: dict[str, Any], courses: Mapping[str, dict[str, Any]], ref: str) -> Iterator[Item]:
    """A section's Class, then one Enrollment per member (students, then primary and co-teachers)."""
    section_id = text(obj.get("id"))
    if section_id is None:
        yield _missing_id(EntityType.CLASS, obj, ref)
        return
    school_id = text(obj.get("school"))
    course_id = text(obj.get("course"))
    course = courses.get(course_id) if course_id else None
    yield Class(
        external_id=section_id,
        school_external_id=school_id,
        title=text(obj.get("name")),
        class_code=text(obj.get("section_number")) or text(obj.get("sis_id")),
        course_external_id=course_id,
        course_code=text(course.get("number")) if course else None,
        course_title=text(course.get("name")) if course else None,
        term_external_ids=_one(obj.get("term_id")),
        subjects=_one(obj.get("subject")),
        grades=_one(grade(obj.get("grade"))),
        periods=_one(obj.get("period")),
        source_ref=ref,
        raw=obj,
    )
    yield from enrollments(section_id, school_id, obj, ref)


def enrollments(section_id: str, school_id: str | None, obj: dict[str, Any], ref: str) -> Iterator[Enrollment]:
    seen: set[str] = set()
    for user_id in _ids(obj.get("students")):
        if user_id not in seen:
            seen.add(user_id)
            yield Enrollment(
                external_id=f"{section_id}:{user_id}:student",
                class_external_id=section_id,
                user_external_id=user_id,
                school_external_id=school_id,
                role="student",
                source_ref=ref,
            )
    primary = text(obj.get("teacher"))
    teachers = _ids(obj.get("teachers"))
    # `teacher` is normally one of `teachers`; a primary teacher missing from the list still teaches
    if primary and primary not in teachers:
        teachers.insert(0, primary)
    seen.clear()
    for user_id in teachers:
        if user_id not in seen:
            seen.add(user_id)
            yield Enrollment(
                external_id=f"{section_id}:{user_id}:teacher",
                class_external_id=section_id,
                user_external_id=user_id,
                school_external_id=school_id,
                role="teacher",
                primary=user_id == primary,
                source_ref=ref,
            )


def roster_role(obj: Mapping[str, Any], include_staff: bool = True) -> str | None:
    """The highest roster role of a user (student < staff < teacher), None for contacts and admins."""
    roles = obj.get("roles")
    if not isinstance(roles, dict):
        return None
    best: str | None = None
    for role, data in roles.items():
        if data is None or role not in ROLE_RANK or (role == "staff" and not include_staff):
            continue
        if best is None or ROLE_RANK[role] > ROLE_RANK[best]:
            best = role
    return best


def user(obj: dict[str, Any], role: str, ref: str) -> Item:
    """A User from a Clever user whose roster role is `role`; the other roles' fields stay in raw."""
    external_id = text(obj.get("id"))
    if external_id is None:
        return _missing_id(EntityType.USER, obj, ref)
    roles: dict[str, Any] = obj.get("roles") or {}
    main: dict[str, Any] = roles.get(role) or {}
    student: dict[str, Any] = roles.get("student") or {}
    name: dict[str, Any] = obj["name"] if isinstance(obj.get("name"), dict) else {}
    return User(
        external_id=external_id,
        role=role,
        given_name=text(name.get("first")),
        middle_name=text(name.get("middle")),
        family_name=text(name.get("last")),
        email=text(obj.get("email")) or text(main.get("email")),
        username=_username(roles, role),
        sis_id=text(main.get("sis_id")) or text(main.get("teacher_number")) or text(main.get("staff_id")),
        student_number=text(student.get("student_number")),
        state_id=text(main.get("state_id")),
        grades=_one(grade(student.get("grade"))) if role == "student" else (),
        school_external_ids=_schools(roles, role),
        primary_school_external_id=text(main.get("school")),
        source_ref=ref,
        raw=obj,
    )


def _schools(roles: dict[str, Any], role: str) -> tuple[str, ...]:
    """Every school of every roster role: the main role's primary school first."""
    schools: list[str] = []
    for key in (role, *_OTHER_ROLES[role]):
        data = roles.get(key)
        if not data:
            continue
        primary = data.get("school")
        if primary and primary not in schools:
            schools.append(str(primary))
        for school_id in data.get("schools") or ():
            if school_id and school_id not in schools:
                schools.append(str(school_id))
    return tuple(schools)


_OTHER_ROLES = {role: tuple(r for r in ("teacher", "staff", "student") if r != role) for role in ROLE_RANK}


def _username(roles: dict[str, Any], role: str) -> str | None:
    for key in (role, "teacher", "staff", "student", "district_admin"):
        credentials = (roles.get(key) or {}).get("credentials")
        if isinstance(credentials, dict) and text(credentials.get("district_username")):
            return text(credentials.get("district_username"))
    return None


def course_index(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(obj["id"]): obj for obj in objs if obj.get("id")}
