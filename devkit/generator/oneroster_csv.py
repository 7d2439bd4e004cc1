"""Writing a district as a OneRoster 1.1 CSV package (bulk or delta), to a directory or a zip.

Rows go straight from the record iterators to csv.writer: memory stays flat at any size. The
output is byte-for-byte deterministic (zip entries carry a fixed timestamp).
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from devkit.generator import ids
from devkit.generator.build import Course
from devkit.generator.catalog import timestamp
from devkit.generator.district import District
from libs.connectors.records import Class, Enrollment, Record, School, Term, User
from libs.enums import EntityType

R = TypeVar("R", bound=Record)


def _header(*columns: str) -> tuple[str, ...]:
    return ("sourcedId", "status", "dateLastModified", *columns)


# exact OneRoster 1.1 headers, in spec order; every file starts with the same three columns
HEADERS: dict[str, tuple[str, ...]] = {
    "orgs.csv": _header("name", "type", "identifier", "parentSourcedId"),
    "academicSessions.csv": _header("title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"),
    "courses.csv": _header(
        "schoolYearSourcedId", "title", "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"
    ),
    "classes.csv": _header(
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "users.csv": _header(
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ),
    "enrollments.csv": _header(
        "classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate", "endDate"
    ),
}
MANIFEST_FILES = (
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItems",
    "orgs",
    "resources",
    "results",
    "users",
)
ZIP_NAME = "oneroster.zip"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
TERM_TYPES = {"school_year": "schoolYear", "semester": "semester", "term": "term", "grading_period": "gradingPeriod"}


def _multi(values: Iterable[str]) -> str:
    return ",".join(values)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@functools.lru_cache(maxsize=64)
def _date(value: date | None) -> str:
    # a district has a handful of distinct dates and millions of rows that carry them
    return value.isoformat() if value is not None else ""


def school_row(school: School) -> list[str]:
    return [school.name or "", "school", school.school_number or "", ids.DISTRICT_ID]


def term_row(term: Term) -> list[str]:
    return [
        term.name or "",
        TERM_TYPES[term.type or "term"],
        _date(term.start_date),
        _date(term.end_date),
        term.parent_external_id or "",
        term.school_year or "",
    ]


def course_row(course: Course) -> list[str]:
    return [
        "",
        course.title,
        course.code,
        _multi(course.grades),
        course.school_external_id,
        _multi(course.subjects),
        "",
    ]


def class_row(klass: Class) -> list[str]:
    class_type = "homeroom" if (klass.course_code or "").startswith("HR") else "scheduled"
    return [
        klass.title or "",
        _multi(klass.grades),
        klass.course_external_id or "",
        klass.class_code or "",
        class_type,
        klass.location or "",
        klass.school_external_id or "",
        _multi(klass.term_external_ids),
        _multi(klass.subjects),
        "",
        _multi(klass.periods),
    ]


def user_row(user: User) -> list[str]:
    user_ids = f"{{stateId:{user.state_id}}}" if user.state_id else ""
    return [
        _flag(user.enabled),
        _multi(user.school_external_ids),
        user.role or "",
        user.username or "",
        user_ids,
        user.given_name or "",
        user.family_name or "",
        user.middle_name or "",
        user.sis_id or "",
        user.email or "",
        "",
        "",
        "",
        _multi(user.grades),
        "",
    ]


def enrollment_row(enrollment: Enrollment) -> list[str]:
    return [
        enrollment.class_external_id or "",
        enrollment.school_external_id or "",
        enrollment.user_external_id or "",
        enrollment.role or "",
        _flag(enrollment.primary),
        _date(enrollment.begin_date),
        _date(enrollment.end_date),
    ]


_ROW_BUILDERS: dict[EntityType, tuple[str, Callable[[Any], list[str]]]] = {
    EntityType.SCHOOL: ("orgs.csv", school_row),
    EntityType.TERM: ("academicSessions.csv", term_row),
    EntityType.CLASS: ("classes.csv", class_row),
    EntityType.USER: ("users.csv", user_row),
    EntityType.ENROLLMENT: ("enrollments.csv", enrollment_row),
}


# canonical fields a OneRoster 1.1 CSV package has no column for: a reader yields None for them
# (a user's state id travels in userIds as {stateId:...}, which the canonical mapping does not read)
NOT_IN_ONEROSTER_CSV: dict[EntityType, tuple[str, ...]] = {
    EntityType.SCHOOL: ("state_id", "nces_id", "low_grade", "high_grade"),
    EntityType.USER: ("state_id",),
}


def as_read_from_oneroster_csv(record: R) -> R:
    """The record as a OneRoster CSV reader sees it after a round trip through a package."""
    missing = NOT_IN_ONEROSTER_CSV.get(record.entity_type)
    return replace(record, **dict.fromkeys(missing, None)) if missing else record  # type: ignore[arg-type]


def write_oneroster_csv(
    district: District,
    out: Path | str,
    *,
    zip: bool = False,
    delta_from: District | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write `district` as a OneRoster 1.1 package and return its path.

    Without `zip`, `out` is a directory that receives manifest.csv and the data files; with it,
    the package is the zip file `out` if it ends in .zip, else `out/oneroster.zip`. With
    `delta_from` (an ancestor state), only what changed since it is written, as a delta:
    status and dateLastModified filled, removed records as `tobedeleted` rows. `progress` is
    called with each file's name as its writing starts.
    """
    out = Path(out)
    if delta_from is not None and not delta_from.is_ancestor_of(district):
        raise ValueError("delta_from must be a state this district was derived from")
    with ExitStack() as stack:
        if zip:
            target = out if out.suffix.lower() == ".zip" else out / ZIP_NAME
            target.parent.mkdir(parents=True, exist_ok=True)
            archive = stack.enter_context(zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED))

            def open_file(name: str) -> IO[str]:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                raw = stack.enter_context(archive.open(info, "w", force_zip64=name == "enrollments.csv"))
                return stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        else:
            target = out
            target.mkdir(parents=True, exist_ok=True)

            def open_file(name: str) -> IO[str]:
                return stack.enter_context((target / name).open("w", encoding="utf-8", newline=""))

        def announced(name: str) -> IO[str]:
            if progress is not None:
                progress(name)
            return open_file(name)

        _write_package(district, delta_from, announced)
    return target


def _write_package(district: District, base: District | None, open_file: Callable[[str], IO[str]]) -> None:
    mode = "bulk" if base is None else "delta"
    present = {"academicSessions", "classes", "courses", "enrollments", "orgs", "users"}
    with open_file("manifest.csv") as handle:
        writer = csv.writer(handle)
        writer.writerow(["propertyName", "value"])
        writer.writerow(["manifest.version", "1.0"])
        writer.writerow(["oneroster.version", "1.1"])
        for name in MANIFEST_FILES:
            writer.writerow([f"file.{name}", mode if name in present else "absent"])
        writer.writerow(["source.systemName", "sis-sync generator"])
        writer.writerow(["source.systemCode", "sis-sync"])
    if base is None:
        _write_bulk(district, open_file)
    else:
        _write_delta(district, base, open_file)


def _write(open_file: Callable[[str], IO[str]], name: str, rows: Iterable[list[str]]) -> None:
    with open_file(name) as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS[name])
        writer.writerows(rows)


def _bulk(records: Iterable[Any], row: Callable[[Any], list[str]]) -> Iterator[list[str]]:
    # a bulk file leaves status and dateLastModified empty
    return ([record.external_id, "", "", *row(record)] for record in records)


def _write_bulk(district: District, open_file: Callable[[str], IO[str]]) -> None:
    district_row = [ids.DISTRICT_ID, "", "", district.spec.district_name, "district", "", ""]
    _write(open_file, "orgs.csv", itertools.chain([district_row], _bulk(district.schools(), school_row)))
    _write(open_file, "academicSessions.csv", _bulk(district.terms(), term_row))
    _write(open_file, "courses.csv", _bulk(district.courses(), course_row))
    for entity in (EntityType.CLASS, EntityType.USER, EntityType.ENROLLMENT):
        name, row = _ROW_BUILDERS[entity]
        _write(open_file, name, _bulk(district.records(entity), row))


def _write_delta(district: District, base: District, open_file: Callable[[str], IO[str]]) -> None:
    # changes come in load order, one entity after the other: a zip has one open entry at a time
    changes = iter(district.timed_changes_since(base))
    pending = next(changes, None)
    courses: set[str] = set()
    for entity, (name, _) in _ROW_BUILDERS.items():
        with open_file(name) as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADERS[name])
            while pending is not None and pending.record.entity_type is entity:
                record = pending.record
                if isinstance(record, Class) and not record.tombstone and record.course_external_id:
                    courses.add(record.course_external_id)
                writer.writerow(_delta_row(record, pending.kind, pending.at))
                pending = next(changes, None)
    if pending is not None:  # pragma: no cover - changes_between yields in load order
        raise RuntimeError("changes out of load order")
    # courses never change, but a class's course title and code live in courses.csv: the
    # courses of the classes written are repeated so the package reads on its own
    stamp = timestamp(district.base_time)
    written = (course for course in district.courses() if course.external_id in courses)
    _write(open_file, "courses.csv", ([course.external_id, "active", stamp, *course_row(course)] for course in written))


def _delta_row(record: Record, kind: str, at: datetime) -> list[str]:
    _, row = _ROW_BUILDERS[record.entity_type]
    status = "tobedeleted" if kind == "deleted" else "active"
    return [record.external_id, status, timestamp(at), *row(record)]
