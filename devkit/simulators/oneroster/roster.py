"""A district as OneRoster 1.1 REST objects, from the canonical records the generator yields.

The inverse of the connector's mapping (libs/connectors/oneroster_api/mapping.py), written
independently so a mapping bug does not cancel itself out. Each flavour serialises like the
servers it stands for: `generic` sends JSON booleans and refs on its own host; `classlink`
sends booleans as strings and hrefs pointing at the district's Roster Server, not at us.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from devkit.generator.district import District
from devkit.generator.oneroster_csv import TERM_TYPES
from libs.connectors.records import Class, Enrollment, School, Term, User

Flavour = Literal["generic", "classlink"]
PATH = "/ims/oneroster/v1p1"

# canonical staff has no OneRoster 1.1 role of its own; proctor is the nearest
USER_ROLES = {
    "student": "student",
    "teacher": "teacher",
    "administrator": "administrator",
    "aide": "aide",
    "staff": "proctor",
}
ENROLLMENT_ROLES = {"student": "student", "teacher": "teacher", "administrator": "administrator", "aide": "aide"}


@dataclass
class Roster:
    """Canonical records of one district, grouped as OneRoster groups them."""

    schools: list[School] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    classes: list[Class] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)
    district_id: str = "district"
    district_name: str = "District"

    @classmethod
    def from_district(cls, district: District) -> Roster:
        return cls(
            schools=list(district.schools()),
            terms=list(district.terms()),
            classes=list(district.classes()),
            users=list(district.users()),
            enrollments=list(district.enrollments()),
            district_name=district.spec.district_name,
        )

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("schools", "terms", "classes", "users", "enrollments")}


@dataclass(frozen=True)
class Serializer:
    flavour: Flavour
    # where hrefs point: our own base URL, or (ClassLink) the district's Roster Server
    href_base: str

    def _bool(self, value: bool) -> Any:
        if self.flavour == "classlink":
            return "true" if value else "false"
        return value

    def _ref(self, collection: str, kind: str, sid: str) -> dict[str, str]:
        return {"href": f"{self.href_base}/{collection}/{sid}", "sourcedId": sid, "type": kind}

    def orgs(self, roster: Roster) -> Iterator[tuple[str, dict[str, Any]]]:
        district = roster.district_id
        yield district, {"sourcedId": district, "name": roster.district_name, "type": "district", "identifier": None}
        for school in roster.schools:
            yield (
                school.external_id,
                {
                    "sourcedId": school.external_id,
                    "name": school.name,
                    "type": "school",
                    "identifier": school.school_number,
                    "parent": self._ref("orgs", "org", district),
                },
            )

    def academic_sessions(self, roster: Roster) -> Iterator[tuple[str, dict[str, Any]]]:
        for term in roster.terms:
            obj: dict[str, Any] = {
                "sourcedId": term.external_id,
                "title": term.name,
                "type": TERM_TYPES.get(term.type or "", "term"),
                "startDate": term.start_date.isoformat() if term.start_date else None,
                "endDate": term.end_date.isoformat() if term.end_date else None,
                "schoolYear": term.school_year,
            }
            if term.parent_external_id:
                obj["parent"] = self._ref("academicSessions", "academicSession", term.parent_external_id)
            yield term.external_id, obj

    def courses(self, roster: Roster) -> Iterator[tuple[str, dict[str, Any]]]:
        seen: set[str] = set()
        for klass in roster.classes:
            cid = klass.course_external_id
            if not cid or cid in seen:
                continue
            seen.add(cid)
            obj: dict[str, Any] = {"sourcedId": cid, "title": klass.course_title, "courseCode": klass.course_code}
            if klass.school_external_id:
                obj["org"] = self._ref("orgs", "org", klass.school_external_id)
            yield cid, obj

    def classes(self, roster: Roster) -> Iterator[tuple[str, dict[str, Any]]]:
        for klass in roster.classes:
            obj: dict[str, Any] = {
                "sourcedId": klass.external_id,
                "title": klass.title,
                "classCode": klass.class_code,
                "classType": "scheduled",
                "location": klass.location,
                "grades": list(klass.grades),
                "subjects": list(klass.subjects),
                "periods": list(klass.periods),
                "school": self._ref("orgs", "org", klass.school_external_id or ""),
                "terms": [self._ref("academicSessions", "academicSession", t) for t in klass.term_external_ids],
            }
            if klass.course_external_id:
                obj["course"] = self._ref("courses", "course", klass.course_external_id)
            yield klass.external_id, obj

    def users(self, roster: Roster) -> Iterator[tuple[str, dict[str, Any]]]:
        for user in roster.users:
            schools = list(user.school_external_ids)
            if user.primary_school_external_id in schools:
                schools.remove(user.primary_school_external_id)
                schools.insert(0, user.primary_school_external_id)
            user_ids = []
            if user.student_number:
                user_ids.append({"type": "studentNumber", "identifier": user.student_number})
            if user.state_id:
                user_ids.append({"type": "StateID", "identifier": user.state_id})
            yield (
                user.external_id,
                {
                    "sourcedId": user.external_id,
                    "username": user.username,
                    "userIds": user_ids,
                    "enabledUser": self._bool(user.enabled),
                    "givenName": user.given_name,
                    "familyName": user.family_name,
                    "middleName": user.middle_name,
                    "role": USER_ROLES.get(user.role or "", "student"),
                    "identifier": user.sis_id,
                    "email": user.email,
                    "sms": None,
                    "phone": None,
                    "agents": [],
                    "orgs": [self._ref("orgs", "org", s) for s in schools],
                    "grades": list(user.grades),
                    "password": "",
                },
            )

    def enrollments(self, roster: Roster) -> Iterator[tuple[str, dict[str, Any]]]:
        for enrollment in roster.enrollments:
            yield (
                enrollment.external_id,
                {
                    "sourcedId": enrollment.external_id,
                    "role": ENROLLMENT_ROLES.get(enrollment.role or "", "student"),
                    "primary": self._bool(enrollment.primary),
                    "user": self._ref("users", "user", enrollment.user_external_id or ""),
                    "class": self._ref("classes", "class", enrollment.class_external_id or ""),
                    "school": self._ref("orgs", "org", enrollment.school_external_id or ""),
                    "beginDate": enrollment.begin_date.isoformat() if enrollment.begin_date else None,
                    "endDate": enrollment.end_date.isoformat() if enrollment.end_date else None,
                },
            )


__all__ = ["PATH", "Flavour", "Roster", "Serializer"]
