"""A row that cannot become a record is reported with file, line, column and its id; the rest go on."""

from __future__ import annotations

from libs.enums import EntityType
from tests.connectors.oneroster_csv.conftest import ENROLLMENTS, SESSIONS, USERS, bulk_manifest

E = EntityType


def error_summary(result):
    return [(e.entity_type, e.code, e.external_id, e.source, e.line, e.field) for e in result.errors()]


def test_unparseable_date_is_an_error_on_that_row_only(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("enrollments"),
        "enrollments.csv": ENROLLMENTS
        + "e1,,,c1,s1,u1,student,,15/08/2025,\n"
        + "e2,,,c1,s1,u2,student,,2025-08-15,2025-13-40\n"
        + "e3,,,c1,s1,u3,student,,2025-08-15,\n",
    }

    result = read(make_package(files))

    assert error_summary(result) == [
        (E.ENROLLMENT, "invalid_date", "e1", "enrollments.csv", 2, "beginDate"),
        (E.ENROLLMENT, "invalid_date", "e2", "enrollments.csv", 3, "endDate"),
    ]
    assert result.errors()[0].message == "beginDate '15/08/2025' is not a date"
    assert [r.external_id for r in result.records()] == ["e3"]


def test_unknown_roles_are_errors_with_the_row_id(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("users", "enrollments"),
        "users.csv": USERS + "u1,,,true,s1,principal-ish,,,A,B,,,,,,,,\nu2,,,true,s1,aide,,,C,D,,,,,,,,\n",
        "enrollments.csv": ENROLLMENTS + "e1,,,c1,s1,u1,guardian,,,\ne2,,,c1,s1,u2,Proctor,,,\n",
    }

    result = read(make_package(files))

    assert error_summary(result) == [
        (E.USER, "unknown_role", "u1", "users.csv", 2, "role"),
        (E.ENROLLMENT, "unknown_role", "e1", "enrollments.csv", 2, "role"),
    ]
    assert result.one(E.USER, "u2").role == "aide"
    # a proctor supervises without teaching: the nearest canonical enrollment role
    assert result.one(E.ENROLLMENT, "e2").role == "aide"


def test_row_without_sourced_id_is_an_error_without_an_id(make_package, read):
    files = {"manifest.csv": bulk_manifest("enrollments"), "enrollments.csv": ENROLLMENTS + " ,,,c1,s1,u1,student,,,\n"}

    result = read(make_package(files))

    assert error_summary(result) == [(E.ENROLLMENT, "missing_id", None, "enrollments.csv", 2, "sourcedId")]


def test_rows_with_the_wrong_number_of_values_are_errors(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("enrollments"),
        "enrollments.csv": ENROLLMENTS
        + "e1,,,c1,s1,u1,student\n"
        + "e2,,,c1,s1,u2,student,,,,surplus\n"
        + "e3,,,c1,s1,u3,student,,,,,\n"
        + "e4,,,c1,s1,u4,student,,,\n",
    }

    result = read(make_package(files))

    assert error_summary(result) == [
        (E.ENROLLMENT, "wrong_column_count", "e1", "enrollments.csv", 2, None),
        (E.ENROLLMENT, "wrong_column_count", "e2", "enrollments.csv", 3, None),
    ]
    assert result.errors()[0].message == "the row has 7 values but the header names 10 columns"
    # trailing empty cells (a spreadsheet's habit) are harmless
    assert [r.external_id for r in result.records()] == ["e3", "e4"]
    assert result.extraction.outcomes[E.ENROLLMENT].complete


def test_unknown_status_term_type_and_boolean_are_errors(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("academicSessions", "users"),
        "academicSessions.csv": SESSIONS + "t1,,,Q1,quarter,2025-08-15,2025-10-01,,2026\nt2,deleted,,Q2,term,,,,\n",
        "users.csv": USERS + "u1,,,maybe,s1,student,,,A,B,,,,,,,,\n",
    }

    result = read(make_package(files))

    assert error_summary(result) == [
        (E.TERM, "invalid_value", "t1", "academicSessions.csv", 2, "type"),
        (E.TERM, "invalid_value", "t2", "academicSessions.csv", 3, "status"),
        (E.USER, "invalid_value", "u1", "users.csv", 2, "enabledUser"),
    ]


def test_error_raw_never_contains_the_password(make_package, read):
    files = {"manifest.csv": bulk_manifest("users"), "users.csv": USERS + "u1,,,true,s1,nobody,,,A,B,,,,,,,,hunter2\n"}

    (error,) = read(make_package(files)).errors()

    assert error.raw is not None
    assert error.raw["sourcedId"] == "u1"
    assert "password" not in error.raw


def test_quote_in_the_middle_of_a_value_is_a_syntax_error_and_reading_goes_on(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("enrollments"),
        "enrollments.csv": ENROLLMENTS + 'e1,,,"c1"x,s1,u1,student,,,\ne2,,,c1,s1,u2,student,,,\n',
    }

    result = read(make_package(files))

    assert [(e.code, e.line) for e in result.errors()] == [("csv_syntax", 2)]
    assert [r.external_id for r in result.records()] == ["e2"]
