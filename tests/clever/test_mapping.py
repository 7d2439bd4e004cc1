"""Clever objects -> canonical records, for the data shapes Clever documents as edge cases."""

from __future__ import annotations

from typing import Any

from libs.connectors.clever import mapping
from libs.connectors.records import Class, Enrollment, RecordError, User
from libs.enums import EntityType


def teacher_and_staff() -> dict[str, Any]:
    return {
        "id": "t1",
        "email": "pat@example.org",
        "name": {"first": "Pat", "middle": "", "last": "Lee"},
        "roles": {
            "teacher": {
                "school": "s1",
                "schools": ["s1"],
                "sis_id": "T-9",
                "credentials": {"district_username": "plee"},
            },
            "staff": {"schools": ["s2"], "staff_id": "ST-4", "title": "Coach"},
            "district_admin": {"title": "IT"},
        },
    }


def test_a_multi_role_user_is_one_user_with_its_highest_role_and_all_role_fields_in_raw() -> None:
    obj = teacher_and_staff()

    assert mapping.roster_role(obj) == "teacher"
    user = mapping.user(obj, "teacher", "ref")

    assert isinstance(user, User)
    assert (user.role, user.sis_id, user.username) == ("teacher", "T-9", "plee")
    assert user.school_external_ids == ("s1", "s2")
    assert user.primary_school_external_id == "s1"
    assert user.middle_name is None  # Clever's "" is unknown
    assert user.raw is not None
    assert set(user.raw["roles"]) == {"teacher", "staff", "district_admin"}


def test_staff_rank_above_students_and_below_teachers_and_can_be_left_out() -> None:
    assert mapping.roster_role({"roles": {"student": {}, "staff": {}}}) == "staff"
    assert mapping.roster_role({"roles": {"student": {}, "staff": {}}}, include_staff=False) == "student"
    assert mapping.roster_role({"roles": {"staff": {}}}, include_staff=False) is None


def test_contacts_and_district_admins_are_not_roster_users() -> None:
    assert mapping.roster_role({"roles": {"contact": {"phone": "1"}}}) is None
    assert mapping.roster_role({"roles": {"district_admin": {}}}) is None
    assert mapping.roster_role({"roles": {"teacher": None}}) is None


def test_a_user_without_email_keeps_none_and_a_student_email_in_the_role_is_used() -> None:
    no_email = mapping.user({"id": "u1", "roles": {"student": {"school": "s1", "schools": ["s1"]}}}, "student", "r")
    role_email = mapping.user({"id": "u2", "roles": {"student": {"email": "kid@example.net"}}}, "student", "r")

    assert isinstance(no_email, User)
    assert no_email.email is None
    assert no_email.given_name is None
    assert isinstance(role_email, User)
    assert role_email.email == "kid@example.net"


def test_a_student_in_several_schools_lists_them_all_with_the_primary_first_known() -> None:
    student = {
        "id": "u3",
        "name": {"first": "Ana", "last": "Ruiz"},
        "roles": {
            "student": {
                "school": "s2",
                "schools": ["s1", "s2", "s3"],
                "student_number": "1001",
                "sis_id": "S-1001",
                "state_id": "ST1",
                "grade": "Kindergarten",
                "credentials": {"district_username": "aruiz"},
            }
        },
    }
    user = mapping.user(student, "student", "r")

    assert isinstance(user, User)
    assert user.school_external_ids == ("s2", "s1", "s3")
    assert user.primary_school_external_id == "s2"
    assert (user.student_number, user.sis_id, user.state_id) == ("1001", "S-1001", "ST1")
    assert user.grades == ("KG",)  # CEDS, as OneRoster


def section(**fields: Any) -> dict[str, Any]:
    base = {"id": "c1", "school": "s1", "name": "Math - Lee - 1", "sis_id": "M1", "students": ["a", "b"]}
    return {**base, **fields}


def test_co_teachers_enrol_and_only_the_section_teacher_is_primary() -> None:
    items = list(mapping.section(section(teacher="t1", teachers=["t1", "t2"]), {}, "r"))
    teachers = [i for i in items if isinstance(i, Enrollment) and i.role == "teacher"]

    assert [(e.user_external_id, e.primary) for e in teachers] == [("t1", True), ("t2", False)]
    assert {e.external_id for e in teachers} == {"c1:t1:teacher", "c1:t2:teacher"}


def test_a_null_primary_teacher_leaves_every_teacher_non_primary() -> None:
    items = list(mapping.section(section(teacher=None, teachers=["t1", "t2"]), {}, "r"))

    assert [e.primary for e in items if isinstance(e, Enrollment) and e.role == "teacher"] == [False, False]


def test_a_primary_teacher_missing_from_teachers_still_teaches() -> None:
    items = list(mapping.section(section(teacher="t9", teachers=["t1"]), {}, "r"))

    teachers = {(e.user_external_id, e.primary) for e in items if isinstance(e, Enrollment) and e.role == "teacher"}
    assert teachers == {("t9", True), ("t1", False)}


def test_a_section_with_no_students_is_still_a_class() -> None:
    items = list(mapping.section(section(students=[], teachers=[]), {}, "r"))

    assert [type(i) for i in items] == [Class]


def test_duplicate_members_enrol_once_and_members_of_other_schools_keep_the_section_school() -> None:
    items = list(mapping.section(section(students=["a", "a", "x-other-school"]), {}, "r"))
    students = [i for i in items if isinstance(i, Enrollment)]

    assert [e.user_external_id for e in students] == ["a", "x-other-school"]
    assert {e.school_external_id for e in students} == {"s1"}


def test_a_section_takes_course_code_and_title_from_its_course() -> None:
    courses = mapping.course_index([{"id": "k1", "name": "Algebra I", "number": "MA101"}])
    cls = next(iter(mapping.section(section(course="k1", term_id="T1", subject="", grade=None), courses, "r")))

    assert isinstance(cls, Class)
    assert (cls.course_external_id, cls.course_code, cls.course_title) == ("k1", "MA101", "Algebra I")
    assert cls.term_external_ids == ("T1",)
    assert cls.subjects == ()
    assert cls.grades == ()


def test_a_term_with_a_bad_date_is_a_record_error_that_keeps_its_id() -> None:
    error = mapping.term({"id": "T1", "name": "Fall", "start_date": "Fall 2024", "end_date": "2024-12-20"}, "r")

    assert isinstance(error, RecordError)
    assert (error.entity_type, error.external_id, error.field) == (EntityType.TERM, "T1", "start_date")


def test_term_dates_are_plain_dates_even_when_sent_as_datetimes() -> None:
    term = mapping.term({"id": "T1", "start_date": "2024-08-01", "end_date": "2025-06-01T00:00:00.000Z"}, "r")

    assert not isinstance(term, RecordError)
    assert str(term.start_date) == "2024-08-01"
    assert str(term.end_date) == "2025-06-01"


def test_objects_without_id_are_record_errors() -> None:
    assert isinstance(mapping.school({"name": "x"}, "r"), RecordError)
    assert isinstance(mapping.user({"roles": {"student": {}}}, "student", "r"), RecordError)
    assert isinstance(next(iter(mapping.section({"name": "x"}, {}, "r"))), RecordError)


def test_grades_become_ceds_codes_and_unknown_values_are_kept() -> None:
    assert [mapping.grade(g) for g in ("Kindergarten", "1", "12", "PreKindergarten", "Ungraded", "")] == [
        "KG",
        "01",
        "12",
        "PK",
        "UG",
        None,
    ]
    assert mapping.grade("Grade 5") == "Grade 5"
