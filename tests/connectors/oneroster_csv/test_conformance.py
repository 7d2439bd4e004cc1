"""Every real OneRoster set in ../shared/data/oneroster reads to the records its rows deserve.

Duplicates and orphan references (e.g. classes of the moodle sets pointing at a department org,
the dangling parent org) are the stage phase's to report, set-based in SQL; here only what the
reader itself must say is asserted.
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

    assert result.errors() == []
    # its only org is a department (whose parent does not exist): no school at all
    assert counts(result) == {
        (E.TERM, False): 3,
        (E.TERM, True): 2,  # one tobedeleted, one 1.0-style inactive, inside a bulk file
        (E.CLASS, False): 1,
        (E.CLASS, True): 1,
        (E.USER, False): 5,
        (E.ENROLLMENT, False): 6,
    }
    assert result.extraction.source["skipped"] == {"users with role parent": 1}
    cls = result.one(E.CLASS, "cls-222-123456")
    assert cls.grades == ("09", "10", "11")
    assert cls.subjects == ("Science", "Physics", "Biology")
    assert cls.school_external_id == "org-sch-222-456"
    teacher = result.one(E.USER, "usr-222-123456")
    assert (teacher.role, teacher.enabled, teacher.school_external_ids) == ("teacher", True, ())
    assert result.one(E.ENROLLMENT, "enr-t-222-12345-123456").begin_date == date(2022, 3, 15)


def test_moodle_minimal_set(shared_data):
    result = read_package(shared_data / "oneroster" / "moodle-enrol_oneroster" / "Test_minimal_data_set")

    assert result.errors() == []
    assert counts(result) == {(E.TERM, False): 5, (E.CLASS, False): 2, (E.USER, False): 5, (E.ENROLLMENT, False): 6}


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

    # roles.csv: 'dataLastModified' and two unnamed trailing header cells; users.csv: 'preffered*' names
    assert result.errors() == []
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
