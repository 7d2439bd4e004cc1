"""A small hand-built district for simulator tests that do not need the generator's scale."""

from __future__ import annotations

import dataclasses
from datetime import date

from devkit.simulators.oneroster.roster import Roster
from libs.connectors.records import Class, Enrollment, School, Term, User


def small_roster(schools: int = 3, students: int = 20, classes: int = 4) -> Roster:
    roster = Roster(district_id="district-1", district_name="Test District")
    year = Term(
        external_id="y2025",
        name="2024-2025",
        type="school_year",
        start_date=date(2024, 8, 1),
        end_date=date(2025, 6, 30),
        school_year="2025",
    )
    fall = Term(
        external_id="t-fall",
        name="Fall",
        type="semester",
        start_date=date(2024, 8, 1),
        end_date=date(2024, 12, 20),
        parent_external_id="y2025",
        school_year="2025",
    )
    roster.terms = [year, fall]
    for s in range(schools):
        sid = f"sch-{s:02d}"
        roster.schools.append(School(external_id=sid, name=f"School {s}", school_number=f"{100 + s}"))
        teacher = f"tch-{s:02d}"
        roster.users.append(
            User(
                external_id=teacher,
                role="teacher",
                given_name="T",
                family_name=f"Teacher{s}",
                email=f"{teacher}@example.org",
                username=teacher,
                sis_id=teacher,
                school_external_ids=(sid,),
                primary_school_external_id=sid,
            )
        )
        for c in range(classes):
            cid = f"cls-{s:02d}-{c}"
            roster.classes.append(
                Class(
                    external_id=cid,
                    school_external_id=sid,
                    title=f"Class {c}",
                    class_code=f"C{c}",
                    course_external_id=f"crs-{c}",
                    course_code=f"C{c}",
                    course_title=f"Course {c}",
                    term_external_ids=("t-fall",),
                    subjects=("Math",),
                    grades=("09",),
                    periods=(str(c + 1),),
                )
            )
            roster.enrollments.append(
                Enrollment(
                    external_id=f"enr-{cid}-{teacher}",
                    class_external_id=cid,
                    user_external_id=teacher,
                    school_external_id=sid,
                    role="teacher",
                    primary=True,
                )
            )
        for n in range(students):
            uid = f"stu-{s:02d}-{n:03d}"
            roster.users.append(
                User(
                    external_id=uid,
                    role="student",
                    given_name="S",
                    family_name=f"Student{n}",
                    username=uid,
                    sis_id=uid,
                    student_number=f"{s}{n:05d}",
                    grades=("09",),
                    school_external_ids=(sid,),
                    primary_school_external_id=sid,
                    enabled=n % 10 != 9,
                )
            )
            for c in range(classes):
                cid = f"cls-{s:02d}-{c}"
                roster.enrollments.append(
                    Enrollment(
                        external_id=f"enr-{cid}-{uid}",
                        class_external_id=cid,
                        user_external_id=uid,
                        school_external_id=sid,
                        role="student",
                        begin_date=date(2024, 8, 1),
                    )
                )
    return roster


def churned(roster: Roster) -> Roster:
    """Renames one student, drops one enrollment, adds one student with an enrollment."""
    users = list(roster.users)
    users[1] = dataclasses.replace(users[1], family_name="Renamed")
    new = dataclasses.replace(users[1], external_id="stu-new", family_name="Newcomer", student_number="999")
    users.append(new)
    enrollments = list(roster.enrollments[1:])
    first = roster.enrollments[1]
    enrollments.append(dataclasses.replace(first, external_id="enr-new", user_external_id="stu-new"))
    return dataclasses.replace(roster, users=users, enrollments=enrollments)
