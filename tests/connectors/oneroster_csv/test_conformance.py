"""Every real OneRoster set in ../shared/data/oneroster reads to the records its rows deserve.

What only the package itself can tell is the reader's to report: a class "at" an org that is a
department, a parent org that orgs.csv does not list. Duplicates and references across the
feed (an enrollment of an unknown class) are the stage phase's, set-based in SQL, and are
asserted with the synced sets in tests/etl/test_shared_sets.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from libs.connectors.base import FeedMode
from libs.enums import EntityType
from tests.connectors.oneroster_csv.conftest import read_package

E = EntityType


def counts(result):
    return Counter((r.entity_type, r.tombstone) for r in result.records())


def test_lms_toolkit_set_reads_every_row(shared_data):
    result = read_package(shared_data / "oneroster" / "LMS-Toolkit")

    assert result.errors() == []
    assert counts(result) == {
        (E.SCHOOL, False): 1,
        (E.TERM, False): 3,
        (E.CLASS, False): 2,
        (E.USER, False): 10,
        (E.ENROLLMENT, False): 24,
    }
    # the district org (255901) is a parent, not a school
    (school,) = result.records(E.SCHOOL)
    assert (school.external_id, school.name) == ("255901001", "Grand Bend High School")
    cls = result.one(E.CLASS, "25590100101Trad120ENG112011")
    assert (cls.course_code, cls.course_title) == ("ENG-1", "English I")
    assert cls.term_external_ids == ("255901001_2021_2020-2021_Fall", "255901001_2021_2020-2021_Spring")
    student = result.one(E.USER, "604918")
    assert (student.given_name, student.middle_name, student.family_name) == ("Peter", "Ivan", "Nash")
    assert student.raw is not None
    assert student.raw["userIds"] == "{Local:918}"
    # courses.csv ends without a newline: its last row is still whole
    assert result.extraction.source["files"]["courses.csv"]["rows"] == 2
    assert all(o.complete and o.mode is FeedMode.FULL for o in result.extraction.outcomes.values())


def test_header_only_templates_read_as_empty_bulk_files(shared_data):
    result = read_package(shared_data / "oneroster" / "oneroster-mocker")

    assert result.items == []
    assert {o.mode for o in result.extraction.outcomes.values()} == {FeedMode.FULL}


def test_moodle_full_set_tombstones_inactive_rows_and_skips_parents(shared_data):
    result = read_package(shared_data / "oneroster" / "moodle-enrol_oneroster" / "Test_full_data_set")

    # its only org is a department (whose parent does not exist): no school at all, and the
    # active class that names the department as its school is a bad row
    assert [(e.code, e.source, e.line, e.field, e.external_id) for e in result.errors()] == [
        ("orphan_reference", "orgs.csv", 2, "parentSourcedId", "org-sch-222-456"),
        ("not_a_school", "classes.csv", 2, "schoolSourcedId", "cls-222-123456"),
    ]
    assert counts(result) == {
        (E.TERM, False): 3,
        (E.TERM, True): 2,  # one tobedeleted, one 1.0-style inactive, inside a bulk file
        (E.CLASS, True): 1,
        (E.USER, False): 5,
        (E.ENROLLMENT, False): 6,
    }
    assert result.extraction.source["skipped"] == {"users with role parent": 1}
    teacher = result.one(E.USER, "usr-222-123456")
    assert (teacher.role, teacher.enabled, teacher.school_external_ids) == ("teacher", True, ())
    assert result.one(E.ENROLLMENT, "enr-t-222-12345-123456").begin_date == date(2022, 3, 15)


def test_moodle_minimal_set(shared_data):
    result = read_package(shared_data / "oneroster" / "moodle-enrol_oneroster" / "Test_minimal_data_set")

    # both classes sit at the set's only org, a department without a parent
    assert [(e.code, e.line, e.external_id) for e in result.errors()] == [
        ("not_a_school", 2, "cls-222-123456"),
        ("not_a_school", 3, "cls-222-123478"),
    ]
    assert counts(result) == {(E.TERM, False): 5, (E.USER, False): 5, (E.ENROLLMENT, False): 6}


def test_oneroster_1_2_delta_set_takes_roles_from_roles_csv(shared_data):
    result = read_package(shared_data / "oneroster" / "moodle-enrol_oneroster" / "oneroster_test_data")

    assert result.errors() == []
    assert {o.mode for o in result.extraction.outcomes.values()} == {FeedMode.DELTA}
    user = result.one(E.USER, "USER_0")
    assert (user.role, user.school_external_ids, user.primary_school_external_id) == ("student", ("ORG_1",), "ORG_1")
    assert user.student_number == "bruce.wayne"
    assert result.one(E.CLASS, "CLASS_001").course_title == "Crime Fighting 101"
    assert result.one(E.SCHOOL, "ORG_1").name == "Gotham High School"
    # the lower-case file name of the 1.2 set is matched (and said)
    assert result.extraction.source["oneroster_version"] == "1.2"


def test_oneroster_1_2_full_set_primary_role_wins_and_odd_headers_are_tolerated(shared_data):
    result = read_package(shared_data / "oneroster" / "moodle-enrol_oneroster" / "v1p2_full_dataset")

    # roles.csv: 'dataLastModified' and two unnamed trailing header cells; users.csv: 'preffered*'
    # names: none of it is an error; the set's only defects are those of its department org
    assert [e.code for e in result.errors()] == ["orphan_reference", "not_a_school"]
    roles = {u.external_id: u.role for u in result.records(E.USER)}
    assert roles == {
        "usr-222-123456": "teacher",  # primary teacher beats a secondary guardian role
        "usr-222-66778899": "student",
        "usr-222-1234561": "administrator",  # only a secondary siteAdministrator role
        "usr-222-987654": "teacher",
        "usr-222-1234561232": "student",
        "usr-222-567891": "student",
    }
    # the org is a department, so not among the user's schools
    assert result.one(E.USER, "usr-222-123456").school_external_ids == ()
    warnings = result.extraction.warnings
    assert "manifest.csv: file.userProfiles has no value; treated as absent" in warnings
    assert counts(result)[(E.TERM, True)] == 2
