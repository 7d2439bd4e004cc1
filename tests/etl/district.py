"""A small hand-made district for engine tests (the generator covers realistic sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from libs.connectors import records as r


@dataclass
class SmallDistrict:
    students: int = 40
    schools: list[r.School] = field(default_factory=list)
    terms: list[r.Term] = field(default_factory=list)
    classes: list[r.Class] = field(default_factory=list)
    users: list[r.User] = field(default_factory=list)
    enrollments: list[r.Enrollment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.schools = [
            r.School(
                external_id=f"sch-{i}", name=f"School {i}", school_number=f"{100 + i}", source_ref=f"orgs.csv:{i + 2}"
            )
            for i in range(2)
        ]
        self.terms = [
            r.Term(
                external_id="year",
                name="2026-27",
                type="school_year",
                start_date=date(2026, 8, 20),
                end_date=date(2027, 6, 10),
                school_year="2027",
            ),
            r.Term(
                external_id="fall",
                name="Fall",
                type="semester",
                start_date=date(2026, 8, 20),
                end_date=date(2026, 12, 20),
                parent_external_id="year",
                school_year="2027",
            ),
        ]
        self.classes = [
            r.Class(
                external_id=f"cls-{i}",
                school_external_id=f"sch-{i % 2}",
                title=f"Class {i}",
                class_code=f"C{i}",
                term_external_ids=("fall",),
                subjects=("Math",),
                grades=("09",),
                course_code="MATH1",
                course_title="Algebra",
                source_ref=f"classes.csv:{i + 2}",
            )
            for i in range(4)
        ]
        teachers = [
            r.User(
                external_id=f"tch-{i}",
                role="teacher",
                given_name=f"Teacher{i}",
                family_name="Ng",
                email=f"teacher{i}@example.org",
                school_external_ids=(f"sch-{i % 2}",),
                primary_school_external_id=f"sch-{i % 2}",
                source_ref=f"users.csv:{i + 2}",
            )
            for i in range(3)
        ]
        students = [
            r.User(
                external_id=f"stu-{i}",
                role="student",
                given_name=f"Zoë{i}",
                family_name="Ødegård",
                email=(f"s{i}@example.org" if i % 5 else None),
                student_number=f"S{i:04d}",
                grades=("09",),
                school_external_ids=(f"sch-{i % 2}",),
                primary_school_external_id=f"sch-{i % 2}",
                source_ref=f"users.csv:{i + 5}",
            )
            for i in range(self.students)
        ]
        self.users = teachers + students
        self.enrollments = [
            r.Enrollment(
                external_id=f"enr-t{i}",
                class_external_id=f"cls-{i}",
                user_external_id=f"tch-{i % 3}",
                role="teacher",
                primary=True,
                source_ref=f"enrollments.csv:{i + 2}",
            )
            for i in range(4)
        ] + [
            r.Enrollment(
                external_id=f"enr-{i}-{c}",
                class_external_id=f"cls-{c}",
                user_external_id=f"stu-{i}",
                role="student",
                source_ref=f"enrollments.csv:{10 + i * 4 + c}",
            )
            for i in range(self.students)
            for c in (i % 2, 2 + i % 2)
        ]

    def records(self) -> list[r.Record]:
        return [*self.schools, *self.terms, *self.classes, *self.users, *self.enrollments]

    def counts(self) -> dict[str, int]:
        return {
            "schools": len(self.schools),
            "terms": len(self.terms),
            "classes": len(self.classes),
            "users": len(self.users),
            "enrollments": len(self.enrollments),
        }


def renamed(user: r.User, given: str) -> r.User:
    return replace(user, given_name=given)
