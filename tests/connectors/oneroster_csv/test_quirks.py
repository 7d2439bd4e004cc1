"""What real exports look like, and the canonical records the reader makes of them."""

from __future__ import annotations

from datetime import date

from libs.enums import EntityType
from tests.connectors.oneroster_csv.conftest import (
    CLASSES,
    COURSES,
    ENROLLMENTS,
    ORGS,
    SESSIONS,
    USERS,
    bulk_manifest,
)

E = EntityType


def full_package() -> dict[str, str]:
    return {
        "manifest.csv": bulk_manifest("orgs", "academicSessions", "courses", "classes", "users", "enrollments"),
        "orgs.csv": ORGS + "d1,,,District,district,,\nsch1,,,North High,school,0042,d1\n",
        "academicSessions.csv": SESSIONS
        + "y1,,,2025-2026,schoolYear,2025-08-15,2026-06-10,,2026\nt1,,,Fall,semester,2025-08-15,2025-12-20,y1,2026\n",
        "courses.csv": COURSES + "crs1,,,y1,Algebra I,ALG-1,09,d1,Math,\n",
        "classes.csv": CLASSES
        + 'cls1,,,Algebra I - 1,"09,10",crs1,ALG-1-1,scheduled,Room 2,sch1,"y1, t1",Math,,"1,2"\n',
        "users.csv": USERS
        + 'stu1,,,TRUE,"d1,sch1",student,ann,"{LDAP:12},{SIS:7001}",Ann,Lee,M,7001,Ann.Lee@X.org,,555,,09,secret\n'
        + "tea1,,,false,sch1,Teacher,bob,,Bob,Ray,,T1,bob@x.org,,,,,\n",
        "enrollments.csv": ENROLLMENTS
        + "e1,,,cls1,sch1,stu1,student,,2025-08-15,2026-06-10\n"
        + "e2,,,cls1,sch1,tea1,teacher,TRUE,2025-08-15T00:00:00.000Z,\n",
    }


def test_bulk_package_becomes_canonical_records_in_load_order(make_package, read):
    result = read(make_package(full_package()))

    assert result.errors() == []
    assert [r.entity_type for r in result.records()] == [E.SCHOOL, E.TERM, E.TERM, E.CLASS, E.USER, E.USER] + [
        E.ENROLLMENT
    ] * 2
    school = result.one(E.SCHOOL, "sch1")
    assert (school.name, school.school_number, school.source_ref) == ("North High", "0042", "orgs.csv:3")
    term = result.one(E.TERM, "t1")
    assert (term.type, term.start_date, term.end_date, term.parent_external_id, term.school_year) == (
        "semester",
        date(2025, 8, 15),
        date(2025, 12, 20),
        "y1",
        "2026",
    )
    assert result.one(E.TERM, "y1").type == "school_year"


def test_district_orgs_are_not_schools(make_package, read):
    result = read(make_package(full_package()))

    assert [s.external_id for s in result.records(E.SCHOOL)] == ["sch1"]


def test_classes_take_course_code_and_title_from_courses_and_split_lists(make_package, read):
    result = read(make_package(full_package()))

    cls = result.one(E.CLASS, "cls1")
    assert (cls.course_external_id, cls.course_code, cls.course_title) == ("crs1", "ALG-1", "Algebra I")
    assert cls.grades == ("09", "10")
    assert cls.term_external_ids == ("y1", "t1")
    assert cls.periods == ("1", "2")
    assert (cls.school_external_id, cls.class_code, cls.location, cls.subjects) == (
        "sch1",
        "ALG-1-1",
        "Room 2",
        ("Math",),
    )
    assert cls.raw == {"classType": "scheduled"}


def test_users_map_roles_booleans_schools_and_identifiers(make_package, read):
    result = read(make_package(full_package()))

    student = result.one(E.USER, "stu1")
    assert student.role == "student"
    assert student.enabled is True
    # the district org is kept out of the user's schools
    assert student.school_external_ids == ("sch1",)
    assert student.primary_school_external_id == "sch1"
    assert (student.sis_id, student.student_number, student.email) == ("7001", "7001", "Ann.Lee@X.org")
    assert (student.given_name, student.middle_name, student.family_name, student.username) == (
        "Ann",
        "M",
        "Lee",
        "ann",
    )
    assert student.grades == ("09",)
    teacher = result.one(E.USER, "tea1")
    assert (teacher.role, teacher.enabled, teacher.student_number, teacher.sis_id) == ("teacher", False, None, "T1")


def test_user_raw_keeps_unmapped_columns_but_never_the_password(make_package, read):
    result = read(make_package(full_package()))

    assert result.one(E.USER, "stu1").raw == {"phone": "555", "userIds": "{LDAP:12},{SIS:7001}"}


def test_student_number_can_come_from_a_named_user_id_type(make_package, read):
    result = read(make_package(full_package()), studentNumberIdType="sis")

    assert result.one(E.USER, "stu1").student_number == "7001"
    assert result.one(E.USER, "stu1").sis_id == "7001"


def test_enrollments_parse_primary_and_dates_including_datetimes(make_package, read):
    result = read(make_package(full_package()))

    student = result.one(E.ENROLLMENT, "e1")
    assert (student.class_external_id, student.user_external_id, student.school_external_id) == ("cls1", "stu1", "sch1")
    assert (student.role, student.primary, student.begin_date, student.end_date) == (
        "student",
        False,
        date(2025, 8, 15),
        date(2026, 6, 10),
    )
    teacher = result.one(E.ENROLLMENT, "e2")
    assert (teacher.role, teacher.primary, teacher.begin_date, teacher.end_date) == (
        "teacher",
        True,
        date(2025, 8, 15),
        None,
    )
    assert teacher.source_ref == "enrollments.csv:3"


def test_bom_crlf_every_cell_quoted_and_no_final_newline_read_like_plain_csv(make_package, read):
    plain = full_package()
    quirky = {}
    for name, text in plain.items():
        lines = text.rstrip("\n").split("\n")
        quoted = ["\r\n".join(lines)]
        if name != "manifest.csv":
            import csv
            import io

            buffer = io.StringIO()
            csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(csv.reader(io.StringIO(text)))
            quoted = [buffer.getvalue().rstrip("\r\n")]
        quirky[name] = "\ufeff" + quoted[0]

    expected = read(make_package(plain))
    result = read(make_package(quirky))

    assert result.errors() == []
    assert [r.content() for r in result.records()] == [r.content() for r in expected.records()]
    assert [r.source_ref for r in result.records()] == [r.source_ref for r in expected.records()]


def test_header_order_is_free_and_extension_columns_land_in_raw(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("orgs"),
        "orgs.csv": "metadata.city,type,name,sourcedId,metadata.state,identifier\nSpringfield,school,North,sch1,,7\n",
    }

    school = read(make_package(files)).one(E.SCHOOL, "sch1")

    assert (school.name, school.school_number) == ("North", "7")
    # empty extension cells are not kept
    assert school.raw == {"metadata.city": "Springfield"}


def test_zip_package_reads_the_same_as_a_folder(make_package, read):
    folder = read(make_package(full_package()))
    archive = read(make_package(full_package(), as_zip=True))

    assert [r.content() for r in archive.records()] == [r.content() for r in folder.records()]
    package = archive.extraction.source["package"]
    assert package["layout"] == "zip"
    assert len(package["sha256"]) == 64


def test_zip_with_the_files_inside_one_folder_is_read_with_a_warning(make_package, read, tmp_path):
    import zipfile

    archive = tmp_path / "nested.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in full_package().items():
            zf.writestr(f"export/{name}", text)

    result = read(archive)

    assert len(result.records(E.ENROLLMENT)) == 2
    assert any("inside the folder 'export'" in w for w in result.extraction.warnings)


def test_multi_line_quoted_value_keeps_the_physical_line_of_each_row(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("orgs"),
        "orgs.csv": ORGS + 'sch1,,,"North\nHigh",school,,\nsch2,,,South,school,,\n',
    }

    result = read(make_package(files))

    assert result.one(E.SCHOOL, "sch1").name == "North\nHigh"
    assert result.one(E.SCHOOL, "sch2").source_ref == "orgs.csv:4"


def test_parents_and_guardians_are_not_roster_users(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("users"),
        "users.csv": USERS
        + "p1,,,true,sch1,parent,p,,Pat,Lee,,,,,,stu1,,\ng1,,,true,sch1,guardian,g,,Gil,Lee,,,,,,,,\n",
    }

    result = read(make_package(files))

    assert result.items == []
    assert result.extraction.source["skipped"] == {"users with role parent": 1, "users with role guardian": 1}


def test_blank_lines_are_skipped(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("orgs"),
        "orgs.csv": ORGS + "sch1,,,North,school,,\n\n\nsch2,,,South,school,,\n\n",
    }

    result = read(make_package(files))

    assert [(s.external_id, s.source_ref) for s in result.records()] == [("sch1", "orgs.csv:2"), ("sch2", "orgs.csv:5")]
