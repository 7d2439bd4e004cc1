"""Canonical records of a generated district -> Clever v3.0 objects, shaped as Clever sends them.

Reality over the spec (research notes §8): term dates are plain dates, students carry `email`
in their role, contacts have only `name.last`, empty strings stand for unknown enum values.
Administrators and aides become Clever `staff`; Clever has one `term_id` per section, so a
class taught over two semesters is filed under the first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from devkit.generator import Course
from devkit.generator.catalog import timestamp
from libs.connectors.records import Class, School, Term, User

# CEDS grade codes (the generator's, OneRoster's) -> Clever's grade enum
CLEVER_GRADES = {
    "IT": "InfantToddler",
    "PR": "Preschool",
    "PK": "PreKindergarten",
    "TK": "TransitionalKindergarten",
    "KG": "Kindergarten",
    **{f"{n:02d}": str(n) for n in range(1, 14)},
    "PS": "PostGraduate",
    "UG": "Ungraded",
    "Other": "Other",
}

# Clever's subject enum, by a keyword of the SIS subject
_SUBJECTS = (
    ("homeroom", "homeroom/advisory"),
    ("english", "english/language arts"),
    ("reading", "english/language arts"),
    ("math", "math"),
    ("science", "science"),
    ("computer", "technology and engineering"),
    ("technology", "technology and engineering"),
    ("social", "social studies"),
    ("history", "social studies"),
    ("language", "language"),
    ("physical", "PE and health"),
    ("health", "PE and health"),
    ("art", "arts and music"),
    ("music", "arts and music"),
    ("study", "interventions/online learning"),
)

STAFF_TITLES = {"administrator": "School Administrator", "aide": "Instructional Aide"}


def clever_grade(value: str | None) -> str | None:
    return CLEVER_GRADES.get(value, "Other") if value else None


def clever_subject(value: str | None) -> str:
    lowered = (value or "").lower()
    for keyword, subject in _SUBJECTS:
        if keyword in lowered:
            return subject
    return "other" if lowered else ""


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def district(district_id: str, name: str, launched: date, synced: datetime) -> dict[str, Any]:
    return {
        "id": district_id,
        "name": name,
        "sis_type": "sftp",
        "launch_date": launched.isoformat(),
        "portal_url": f"https://clever.com/in/{district_id[-8:]}",
        "login_methods": ["Clever Badges", "Clever Passwords"],
        "last_sync": timestamp(synced),
        "state": "success",
        "error": "",
        "pause_start": None,
        "pause_end": None,
        "nces_id": None,
        "mdr_number": None,
        "district_contact": {"id": district_id, "district": district_id, "name": {"first": "Sam", "last": "Admin"}},
    }


def school(record: School, clever_id: str, district_id: str, created: str) -> dict[str, Any]:
    return {
        "id": clever_id,
        "district": district_id,
        "name": record.name,
        "sis_id": record.school_number or record.external_id,
        "school_number": record.school_number or "",
        "state_id": record.state_id,
        "nces_id": record.nces_id,
        "mdr_number": None,
        "low_grade": clever_grade(record.low_grade),
        "high_grade": clever_grade(record.high_grade),
        "phone": None,
        "location": {"address": None, "city": None, "state": None, "zip": None},
        "principal": {"name": None, "email": None},
        "ext": {},
        "created": created,
        "last_modified": created,
    }


def term(record: Term, clever_id: str, district_id: str) -> dict[str, Any]:
    return {
        "id": clever_id,
        "district": district_id,
        "name": record.name,
        "start_date": _day(record.start_date),
        "end_date": _day(record.end_date),
    }


def course(record: Course, clever_id: str, district_id: str) -> dict[str, Any]:
    return {"id": clever_id, "district": district_id, "name": record.title, "number": record.code}


def section(
    record: Class,
    ids: dict[str, str],
    district_id: str,
    students: list[str],
    teachers: list[str],
    primary: str | None,
    created: str,
) -> dict[str, Any]:
    """`ids` maps the record's school, course and first term to their Clever ids."""
    return {
        "id": ids["section"],
        "district": district_id,
        "school": ids["school"],
        "name": record.title,
        "sis_id": record.class_code or record.external_id,
        "section_number": record.class_code,
        "course": ids.get("course"),
        "term_id": ids.get("term"),
        "subject": clever_subject(record.subjects[0] if record.subjects else None),
        "grade": clever_grade(record.grades[0] if record.grades else None),
        "period": record.periods[0] if record.periods else None,
        "students": students,
        "teacher": primary,
        "teachers": teachers,
        "ext": {"classroom": record.location} if record.location else {},
        "created": created,
        "last_modified": created,
    }


def user(
    record: User, clever_id: str, district_id: str, schools: list[str], created: str, *, also_staff: bool = False
) -> dict[str, Any]:
    """A roster user; `schools` are the Clever ids of its schools, primary first."""
    credentials = {"district_username": record.username} if record.username else {}
    primary = schools[0] if schools else None
    roles: dict[str, Any] = {}
    if record.role == "student":
        roles["student"] = {
            "school": primary,
            "schools": schools,
            "sis_id": record.sis_id,
            "student_number": record.student_number,
            "state_id": record.state_id,
            "grade": clever_grade(record.grades[0] if record.grades else None),
            "credentials": credentials,
            # open-ended school enrollments: no end_date (the spec does not let it be null)
            "enrollments": [{"school": s, "start_date": created} for s in schools],
            "legacy_id": clever_id,
            "ext": {},
        }
        if record.email:
            # real responses repeat the email inside the student role (not in the spec)
            roles["student"]["email"] = record.email
    elif record.role == "teacher":
        roles["teacher"] = {
            "school": primary,
            "schools": schools,
            "sis_id": record.sis_id,
            "teacher_number": record.sis_id,
            "state_id": record.state_id,
            "title": "Teacher",
            "credentials": credentials,
            "legacy_id": clever_id,
            "ext": {},
        }
    if record.role in STAFF_TITLES or also_staff:
        roles["staff"] = {
            "schools": schools,
            "staff_id": record.sis_id,
            "title": STAFF_TITLES.get(record.role or "", "Department Head"),
            "department": None,
            "roles": [],
            "credentials": credentials,
            "legacy_id": clever_id,
            "ext": {},
        }
    obj: dict[str, Any] = {
        "id": clever_id,
        "district": district_id,
        "name": {"first": record.given_name, "middle": record.middle_name, "last": record.family_name},
        "roles": roles,
        "created": created,
        "last_modified": created,
    }
    if record.email:
        obj["email"] = record.email
    return obj


def contact(clever_id: str, district_id: str, family_name: str, student_id: str, created: str) -> dict[str, Any]:
    """A guardian: Clever stores the whole name in `name.last`."""
    return {
        "id": clever_id,
        "district": district_id,
        "name": {"last": family_name},
        "roles": {
            "contact": {
                "phone": "",
                "phone_type": "",
                "sis_id": f"C-{clever_id[-8:]}",
                "legacy_id": clever_id,
                "student_relationships": [{"student": student_id, "relationship": "Parent", "type": "Parent/Guardian"}],
            }
        },
        "created": created,
        "last_modified": created,
    }


def district_admin(clever_id: str, district_id: str, email: str, created: str) -> dict[str, Any]:
    return {
        "id": clever_id,
        "district": district_id,
        "email": email,
        "name": {"first": "Dana", "middle": None, "last": "Director"},
        "roles": {"district_admin": {"title": "Director of Technology", "legacy_id": clever_id}},
        "created": created,
        "last_modified": created,
    }
