"""OneRoster rows -> canonical records (docs/canonical-model.md, "OneRoster 1.1").

One builder per file, made from the file's header: column positions are bound once, and the
per-row function is plain code (no per-row validation framework: enrollments run to millions).
A builder returns a record, a RecordError for a row that cannot become one (the error carries
the row's sourcedId, so the id stays "present"), or None for rows outside the roster (district
orgs, parents and guardians).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from libs.connectors.oneroster_csv.stream import Builder, CsvStream
from libs.connectors.oneroster_vocabulary import (
    BOOLEANS,
    ENROLLMENT_ROLES,
    NON_ROSTER_ROLES,
    TERM_TYPES,
    TOMBSTONE_STATUSES,
    USER_ROLES,
)
from libs.connectors.records import Class, Enrollment, Item, School, Term, User, split_multi


def parse_date(text: str) -> date | None:
    """`YYYY-MM-DD`; a datetime in a date column keeps its date part as written (no zone shift)."""
    text = text.strip()
    if not text:
        return None
    if len(text) > 10 and text[10] in "T ":
        text = text[:10]
    return date.fromisoformat(text)


def parse_bool(text: str, default: bool) -> bool | None:
    text = text.strip()
    if not text:
        return default
    return BOOLEANS.get(text.lower())


def _cell(row: list[str], position: int) -> str | None:
    if position < 0:
        return None
    return row[position].strip() or None


def _raw(row: list[str], extras: list[tuple[int, str]]) -> dict[str, Any] | None:
    raw: dict[str, Any] | None = None
    for position, name in extras:
        value = row[position]
        if value:
            if raw is None:
                raw = {}
            raw[name] = value
    return raw


@dataclass
class PackageState:
    """What one file tells the next: course titles for classes, roles for 1.2 users, non-school orgs."""

    courses: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # 1.2: user sourcedId -> (role as written, org sourcedIds with the primary role's first)
    roles: dict[str, tuple[str, tuple[str, ...]]] | None = None
    non_school_orgs: set[str] = field(default_factory=set)
    student_number_id_type: str | None = None
    skipped: Counter[str] = field(default_factory=Counter)


class _Status:
    """A row's status column: active (or blank), a tombstone, or a value we do not know."""

    ACTIVE, GONE, INVALID = 0, 1, 2

    def __init__(self, stream: CsvStream) -> None:
        self.position = stream.header.col("status")
        self.stream = stream

    def __call__(self, row: list[str]) -> int:
        if self.position < 0:
            return self.ACTIVE
        value = row[self.position]
        if not value:
            return self.ACTIVE
        value = value.strip().lower()
        if value in ("", "active"):
            return self.ACTIVE
        return self.GONE if value in TOMBSTONE_STATUSES else self.INVALID

    def error(self, row: list[str], line: int) -> Item:
        text = row[self.position]
        return self.stream.error(row, line, "invalid_value", f"status '{text}' is not active or tobedeleted", "status")


def _missing_id(stream: CsvStream, row: list[str], line: int) -> Item:
    return stream.error(row, line, "missing_id", "the row has no sourcedId", "sourcedId")


def org_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_name, i_type, i_ident = h.col("sourcedId"), h.col("name"), h.col("type"), h.col("identifier")
    status = _Status(stream)
    extras = h.extras(mapped)
    file = stream.file

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return _missing_id(stream, row, line)
        org_type = row[i_type].strip().lower()
        if org_type and org_type != "school":
            state.non_school_orgs.add(sid)
            return None
        row_status = status(row)
        if row_status:
            if row_status == _Status.GONE:
                return School(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=_raw(row, extras))
            return status.error(row, line)
        if not org_type:
            return stream.error(row, line, "missing_value", "the org has no type", "type")
        return School(
            external_id=sid,
            name=_cell(row, i_name),
            school_number=_cell(row, i_ident),
            source_ref=f"{file}:{line}",
            raw=_raw(row, extras),
        )

    return build


def term_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_title, i_type = h.col("sourcedId"), h.col("title"), h.col("type")
    i_start, i_end, i_parent, i_year = (
        h.col("startDate"),
        h.col("endDate"),
        h.col("parentSourcedId"),
        h.col("schoolYear"),
    )
    status = _Status(stream)
    extras = h.extras(mapped)
    file = stream.file

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return _missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == _Status.GONE:
                return Term(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=_raw(row, extras))
            return status.error(row, line)
        type_text = row[i_type].strip()
        term_type = TERM_TYPES.get(type_text.lower())
        if term_type is None:
            return stream.error(
                row,
                line,
                "invalid_value",
                f"type '{type_text}' is not schoolYear, semester, term or gradingPeriod",
                "type",
            )
        try:
            start = parse_date(row[i_start])
        except ValueError:
            return stream.error(row, line, "invalid_date", f"startDate '{row[i_start]}' is not a date", "startDate")
        try:
            end = parse_date(row[i_end])
        except ValueError:
            return stream.error(row, line, "invalid_date", f"endDate '{row[i_end]}' is not a date", "endDate")
        return Term(
            external_id=sid,
            name=_cell(row, i_title),
            type=term_type,
            start_date=start,
            end_date=end,
            parent_external_id=_cell(row, i_parent),
            school_year=_cell(row, i_year),
            source_ref=f"{file}:{line}",
            raw=_raw(row, extras),
        )

    return build


def course_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    """Courses are not records: they lend their code and title to classes."""
    h = stream.header
    i_id, i_title, i_code = h.col("sourcedId"), h.col("title"), h.col("courseCode")
    courses = state.courses

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if sid:
            courses[sid] = (_cell(row, i_code), _cell(row, i_title))
        return None

    return build


def class_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_title, i_code, i_course = h.col("sourcedId"), h.col("title"), h.col("classCode"), h.col("courseSourcedId")
    i_school, i_terms, i_subjects = h.col("schoolSourcedId"), h.col("termSourcedIds"), h.col("subjects")
    i_grades, i_periods, i_location = h.col("grades"), h.col("periods"), h.col("location")
    status = _Status(stream)
    extras = h.extras(mapped)
    file = stream.file
    courses = state.courses
    no_course: tuple[str | None, str | None] = (None, None)

    def multi(row: list[str], position: int) -> tuple[str, ...]:
        return split_multi(row[position]) if position >= 0 else ()

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return _missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == _Status.GONE:
                return Class(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=_raw(row, extras))
            return status.error(row, line)
        course_id = row[i_course].strip() or None
        course_code, course_title = courses.get(course_id, no_course) if course_id else no_course
        return Class(
            external_id=sid,
            school_external_id=row[i_school].strip() or None,
            title=_cell(row, i_title),
            class_code=_cell(row, i_code),
            course_external_id=course_id,
            course_code=course_code,
            course_title=course_title,
            term_external_ids=split_multi(row[i_terms]),
            subjects=multi(row, i_subjects),
            grades=multi(row, i_grades),
            periods=multi(row, i_periods),
            location=_cell(row, i_location),
            source_ref=f"{file}:{line}",
            raw=_raw(row, extras),
        )

    return build


class RoleCollector:
    """OneRoster 1.2 roles.csv -> `state.roles`: the primary role wins, a secondary one fills in."""

    def __init__(self, stream: CsvStream, state: PackageState) -> None:
        h = stream.header
        self.i_user, self.i_type = h.col("userSourcedId"), h.col("roleType")
        self.i_role, self.i_org = h.col("role"), h.col("orgSourcedId")
        self.status = _Status(stream)
        self.state = state
        # user -> (from a primary role?, role as written, orgs with the primary role's first)
        self.best: dict[str, tuple[bool, str, list[str]]] = {}

    def build(self, row: list[str], line: int) -> Item | None:
        user = row[self.i_user].strip()
        if not user or self.status(row) != _Status.ACTIVE:
            return None
        primary = row[self.i_type].strip().lower() == "primary"
        role = row[self.i_role].strip()
        org = row[self.i_org].strip()
        current = self.best.get(user)
        if current is None:
            self.best[user] = (primary, role, [org] if org else [])
            return None
        was_primary, current_role, orgs = current
        if org and org not in orgs:
            if primary:
                orgs.insert(0, org)
            else:
                orgs.append(org)
        if primary and not was_primary:
            self.best[user] = (True, role, orgs)
        elif not was_primary and current_role.lower() in NON_ROSTER_ROLES and role.lower() not in NON_ROSTER_ROLES:
            # among secondary roles only, a roster role beats a guardian's
            self.best[user] = (False, role, orgs)
        return None

    def finish(self) -> None:
        self.state.roles = {user: (role, tuple(orgs)) for user, (_, role, orgs) in self.best.items()}


def user_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_role, i_orgs, i_enabled = h.col("sourcedId"), h.col("role"), h.col("orgSourcedIds"), h.col("enabledUser")
    i_given, i_middle, i_family = h.col("givenName"), h.col("middleName"), h.col("familyName")
    i_email, i_username, i_ident, i_grades = h.col("email"), h.col("username"), h.col("identifier"), h.col("grades")
    i_user_ids, i_primary_org = h.col("userIds"), h.col("primaryOrgSourcedId")
    status = _Status(stream)
    extras = h.extras(mapped)
    file = stream.file
    # a users.csv with a role column is read the 1.1 way even in a package that calls itself 1.2
    roles: Mapping[str, tuple[str, tuple[str, ...]]] | None = state.roles if i_role < 0 else None
    non_school = state.non_school_orgs
    number_type = (state.student_number_id_type or "").lower() or None
    if i_user_ids < 0:
        number_type = None
    skipped = state.skipped

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return _missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == _Status.GONE:
                return User(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=_raw(row, extras))
            return status.error(row, line)
        if roles is None:
            role_text = row[i_role].strip()
            orgs = split_multi(row[i_orgs]) if i_orgs >= 0 else ()
            role_field = "role"
        else:
            found = roles.get(sid)
            if found is None:
                return stream.error(row, line, "missing_role", "roles.csv gives this user no role", "role")
            role_text, orgs = found
            role_field = "roles.csv role"
        lowered = role_text.lower()
        role = USER_ROLES.get(lowered)
        if role is None:
            if lowered in NON_ROSTER_ROLES:
                skipped[f"users with role {lowered}"] += 1
                return None
            return stream.error(row, line, "unknown_role", f"role '{role_text}' is not a roster role", role_field)
        enabled = parse_bool(row[i_enabled], True) if i_enabled >= 0 else True
        if enabled is None:
            return stream.error(
                row, line, "invalid_value", f"enabledUser '{row[i_enabled]}' is not true or false", "enabledUser"
            )
        schools = tuple(org for org in orgs if org not in non_school) if non_school else orgs
        primary_school = _cell(row, i_primary_org)
        if primary_school is None or primary_school in non_school:
            primary_school = schools[0] if schools else None
        identifier = _cell(row, i_ident)
        student_number = None
        if role == "student":
            student_number = identifier if number_type is None else _user_id(row[i_user_ids], number_type)
        return User(
            external_id=sid,
            role=role,
            given_name=_cell(row, i_given),
            middle_name=_cell(row, i_middle),
            family_name=_cell(row, i_family),
            email=_cell(row, i_email),
            username=_cell(row, i_username),
            sis_id=identifier,
            student_number=student_number,
            grades=split_multi(row[i_grades]) if i_grades >= 0 else (),
            school_external_ids=schools,
            primary_school_external_id=primary_school,
            enabled=enabled,
            source_ref=f"{file}:{line}",
            raw=_raw(row, extras),
        )

    return build


def parse_user_ids(text: str) -> list[tuple[str, str]]:
    """`{LDAP:12},{Local:863}` -> [("LDAP", "12"), ("Local", "863")]; items not in braces are skipped."""
    pairs = []
    for item in split_multi(text):
        if item.startswith("{") and item.endswith("}") and ":" in item:
            kind, _, value = item[1:-1].partition(":")
            pairs.append((kind.strip(), value.strip()))
    return pairs


def _user_id(text: str, kind: str) -> str | None:
    for found_kind, value in parse_user_ids(text):
        if found_kind.lower() == kind and value:
            return value
    return None


def enrollment_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_class, i_user, i_school = (
        h.col("sourcedId"),
        h.col("classSourcedId"),
        h.col("userSourcedId"),
        h.col("schoolSourcedId"),
    )
    i_role, i_primary, i_begin, i_end = h.col("role"), h.col("primary"), h.col("beginDate"), h.col("endDate")
    status = _Status(stream)
    extras = h.extras(mapped)
    file = stream.file
    roles = ENROLLMENT_ROLES

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return _missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == _Status.GONE:
                return Enrollment(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=_raw(row, extras))
            return status.error(row, line)
        role_text = row[i_role]
        role = roles.get(role_text) or roles.get(role_text.strip().lower())
        if role is None:
            return stream.error(row, line, "unknown_role", f"role '{role_text}' is not an enrollment role", "role")
        primary = parse_bool(row[i_primary], False) if i_primary >= 0 else False
        if primary is None:
            return stream.error(
                row, line, "invalid_value", f"primary '{row[i_primary]}' is not true or false", "primary"
            )
        begin = end = None
        if i_begin >= 0 and row[i_begin]:
            try:
                begin = parse_date(row[i_begin])
            except ValueError:
                return stream.error(row, line, "invalid_date", f"beginDate '{row[i_begin]}' is not a date", "beginDate")
        if i_end >= 0 and row[i_end]:
            try:
                end = parse_date(row[i_end])
            except ValueError:
                return stream.error(row, line, "invalid_date", f"endDate '{row[i_end]}' is not a date", "endDate")
        return Enrollment(
            external_id=sid,
            class_external_id=row[i_class].strip() or None,
            user_external_id=row[i_user].strip() or None,
            school_external_id=row[i_school].strip() or None,
            role=role,
            primary=primary,
            begin_date=begin,
            end_date=end,
            source_ref=f"{file}:{line}",
            raw=_raw(row, extras),
        )

    return build


__all__ = [
    "ENROLLMENT_ROLES",
    "NON_ROSTER_ROLES",
    "TOMBSTONE_STATUSES",
    "USER_ROLES",
    "PackageState",
    "RoleCollector",
    "class_builder",
    "course_builder",
    "enrollment_builder",
    "org_builder",
    "parse_bool",
    "parse_date",
    "parse_user_ids",
    "term_builder",
    "user_builder",
]
