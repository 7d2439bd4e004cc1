"""OneRoster rows -> canonical records (docs/canonical-model.md, "OneRoster 1.1"): orgs, terms, classes, enrollments.

One builder per file, made from the file's header: column positions are bound once, and the
per-row function is plain code (no per-row validation framework: enrollments run to millions).
A builder returns a record, a RecordError for a row that cannot become one (the error carries
the row's sourcedId, so the id stays "present"), or None for rows outside the roster (district
orgs). Users, whose roles may come from another file, are in users.py.
"""

from __future__ import annotations

from libs.connectors.oneroster_csv.stream import Builder, CsvStream
from libs.connectors.oneroster_csv.values import (
    PackageState,
    RowStatus,
    cell,
    missing_id,
    parse_bool,
    parse_date,
    raw_extras,
)
from libs.connectors.oneroster_vocabulary import ENROLLMENT_ROLES, TERM_TYPES
from libs.connectors.records import Class, Enrollment, Item, School, Term, split_multi


def org_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_name, i_type, i_ident = h.col("sourcedId"), h.col("name"), h.col("type"), h.col("identifier")
    i_parent = h.col("parentSourcedId")
    status = RowStatus(stream)
    extras = h.extras(mapped)
    file = stream.file

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return missing_id(stream, row, line)
        state.org_ids.add(sid)
        parent = row[i_parent].strip() if i_parent >= 0 else ""
        if parent:
            state.org_parents.append((sid, parent, line))
        type_text = row[i_type].strip()
        org_type = type_text.lower()
        if org_type and org_type != "school":
            state.non_school_orgs[sid] = type_text
            return None
        row_status = status(row)
        if row_status:
            if row_status == RowStatus.GONE:
                return School(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=raw_extras(row, extras))
            return status.error(row, line)
        if not org_type:
            return stream.error(row, line, "missing_value", "the org has no type", "type")
        return School(
            external_id=sid,
            name=cell(row, i_name),
            school_number=cell(row, i_ident),
            source_ref=f"{file}:{line}",
            raw=raw_extras(row, extras),
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
    status = RowStatus(stream)
    extras = h.extras(mapped)
    file = stream.file

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == RowStatus.GONE:
                return Term(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=raw_extras(row, extras))
            return status.error(row, line)
        type_text = row[i_type].strip()
        term_type = TERM_TYPES.get(type_text.lower())
        if term_type is None and type_text:
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
            name=cell(row, i_title),
            type=term_type,
            start_date=start,
            end_date=end,
            parent_external_id=cell(row, i_parent),
            school_year=cell(row, i_year),
            source_ref=f"{file}:{line}",
            raw=raw_extras(row, extras),
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
            courses[sid] = (cell(row, i_code), cell(row, i_title))
        return None

    return build


def class_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_title, i_code, i_course = h.col("sourcedId"), h.col("title"), h.col("classCode"), h.col("courseSourcedId")
    i_school, i_terms, i_subjects = h.col("schoolSourcedId"), h.col("termSourcedIds"), h.col("subjects")
    i_grades, i_periods, i_location = h.col("grades"), h.col("periods"), h.col("location")
    status = RowStatus(stream)
    extras = h.extras(mapped)
    file = stream.file
    courses = state.courses
    non_school = state.non_school_orgs
    no_course: tuple[str | None, str | None] = (None, None)

    def multi(row: list[str], position: int) -> tuple[str, ...]:
        return split_multi(row[position]) if position >= 0 else ()

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == RowStatus.GONE:
                return Class(external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=raw_extras(row, extras))
            return status.error(row, line)
        school_id = row[i_school].strip() or None
        if school_id in non_school:
            # a class "at" a department or district: say what the org is, not just that no school has the id
            return stream.error(
                row,
                line,
                "not_a_school",
                f"schoolSourcedId '{school_id}' is a {non_school[school_id]} org in orgs.csv, not a school",
                "schoolSourcedId",
            )
        course_id = row[i_course].strip() or None
        course_code, course_title = courses.get(course_id, no_course) if course_id else no_course
        return Class(
            external_id=sid,
            school_external_id=school_id,
            title=cell(row, i_title),
            class_code=cell(row, i_code),
            course_external_id=course_id,
            course_code=course_code,
            course_title=course_title,
            term_external_ids=split_multi(row[i_terms]),
            subjects=multi(row, i_subjects),
            grades=multi(row, i_grades),
            periods=multi(row, i_periods),
            location=cell(row, i_location),
            source_ref=f"{file}:{line}",
            raw=raw_extras(row, extras),
        )

    return build


def enrollment_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
    h = stream.header
    i_id, i_class, i_user, i_school = (
        h.col("sourcedId"),
        h.col("classSourcedId"),
        h.col("userSourcedId"),
        h.col("schoolSourcedId"),
    )
    i_role, i_primary, i_begin, i_end = h.col("role"), h.col("primary"), h.col("beginDate"), h.col("endDate")
    status = RowStatus(stream)
    extras = h.extras(mapped)
    file = stream.file
    roles = ENROLLMENT_ROLES

    def build(row: list[str], line: int) -> Item | None:
        sid = row[i_id].strip()
        if not sid:
            return missing_id(stream, row, line)
        row_status = status(row)
        if row_status:
            if row_status == RowStatus.GONE:
                return Enrollment(
                    external_id=sid, tombstone=True, source_ref=f"{file}:{line}", raw=raw_extras(row, extras)
                )
            return status.error(row, line)
        role_text = row[i_role]
        role = roles.get(role_text) or roles.get(role_text.strip().lower())
        # a blank value passes on as null: stage refuses missing values, for every source alike
        if role is None and role_text.strip():
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
            raw=raw_extras(row, extras) if extras else None,
        )

    return build


__all__ = [
    "ENROLLMENT_ROLES",
    "TERM_TYPES",
    "class_builder",
    "course_builder",
    "enrollment_builder",
    "org_builder",
    "term_builder",
]
