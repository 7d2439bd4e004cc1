"""Turning model states into canonical records (libs.connectors.records) and courses."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from devkit.generator import ids
from devkit.generator.catalog import (
    CATALOG,
    LEVEL_GRADES,
    LEVEL_NAMES,
    TERM_TEMPLATES,
    Level,
    enrichment_course,
    grade_label,
    is_core,
    scheduled_course,
    term_date,
)
from devkit.generator.hashing import mix, salt
from devkit.generator.layout import Layout
from devkit.generator.model import ClassState, Model, StaffState, StudentState
from devkit.generator.names import SCHOOL_NAMES, PersonName, ascii_token, person_name
from libs.connectors.records import Class, Enrollment, School, Term, User


@dataclass(frozen=True, slots=True)
class Course:
    """A course of a school's catalogue (OneRoster courses.csv; Clever /courses)."""

    external_id: str
    title: str
    code: str
    school_external_id: str
    grades: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()


# email local parts; each email change moves to the next format. Every format ends in the
# person's number and names have no digits, so two people never share an address.
_EMAIL_FORMATS = ("{g}.{f}{n}", "{g0}{f}{n}", "{g}{f}.{n}", "{f}.{g}{n}")
_STAFF_NUMBER_BASE = {"teacher": 100_000, "administrator": 900_000, "aide": 950_000}
_SIS_PREFIX = {"teacher": "T", "administrator": "A", "aide": "D"}


class Builder:
    def __init__(self, layout: Layout) -> None:
        spec = layout.spec
        self.layout, self.spec = layout, spec
        self._name_keys = {
            role: salt(spec.seed, "names", role) for role in ("student", "teacher", "administrator", "aide")
        }
        self._school_key = salt(spec.seed, "schools")
        self._state_id_offset = salt(spec.seed, "state-ids") % 9_000_000_000
        self._caps_key = salt(spec.seed, "email-case")
        self._school_ids = [ids.school_id(school) for school in range(spec.schools)]
        self._student_domain = f"students.{spec.domain}"

    # -- organisation and calendar --------------------------------------------------------

    def school(self, index: int) -> School:
        shape = self.layout.schools[index]
        rotation = self._school_key % len(SCHOOL_NAMES)
        base = SCHOOL_NAMES[(index + rotation) % len(SCHOOL_NAMES)]
        round_ = index // len(SCHOOL_NAMES)
        name = f"{base} {LEVEL_NAMES[shape.level]}" + (f" {round_ + 1}" if round_ else "")
        grades = LEVEL_GRADES[shape.level]
        number = f"{index + 1:04d}"
        return School(
            external_id=ids.school_id(index),
            name=name,
            school_number=number,
            state_id=f"{self.spec.seed % 100:02d}-{index + 1:05d}",
            nces_id=f"{(self._school_key % 90000) + 10000:05d}{index + 1:07d}",
            low_grade=grades[0],
            high_grade=grades[-1],
        )

    def terms(self, school_year: int) -> list[Term]:
        out = []
        for template in TERM_TEMPLATES:
            out.append(
                Term(
                    external_id=ids.term_id(school_year, template.suffix),
                    name=template.title.format(start=school_year - 1, end=school_year),
                    type=template.type,
                    start_date=term_date(school_year, template.start),
                    end_date=term_date(school_year, template.end),
                    parent_external_id=None if template.parent is None else ids.term_id(school_year, template.parent),
                    school_year=str(school_year),
                )
            )
        return out

    def courses(self, school: int) -> list[Course]:
        level = self.layout.schools[school].level
        return [
            Course(
                external_id=ids.course_id(school, n),
                title=template.title,
                code=template.code,
                school_external_id=ids.school_id(school),
                grades=(template.grade,) if template.grade else LEVEL_GRADES[level],
                subjects=(template.subject,),
            )
            for n, template in enumerate(CATALOG[level])
        ]

    # -- classes and enrollments ----------------------------------------------------------

    def klass(self, model: Model, state: ClassState) -> Class:
        layout, index = self.layout, state.index
        year = model.school_year
        if index < layout.classes:
            school, cohort, period, section = layout.class_position(index)
            shape = layout.schools[school]
            grade_index = (cohort + model.rollovers) % shape.grades
            template_index = scheduled_course(shape.level, grade_index, period, section)
            seat = (index - shape.first_class) % shape.teachers
            period_label = str(period + 1)
            code = f"{CATALOG[shape.level][template_index].code}-{period + 1}{section + 1:02d}"
            core = is_core(shape.level, period)
        else:
            layer = next(lay for k, lay in model.year_layers if 0 <= index - lay.first_class < len(lay.added_classes))
            added = layer.added_classes[index - layer.first_class]
            school, cohort, section = added.school, added.cohort, index - layer.first_class
            shape = layout.schools[school]
            grade_index = (cohort + model.rollovers) % shape.grades
            template_index = enrichment_course(shape.level)
            seat, period_label, core = added.teacher_slot, "8", False
            code = f"{CATALOG[shape.level][template_index].code}-{index + 1}"
        template = CATALOG[shape.level][template_index]
        grade = LEVEL_GRADES[shape.level][grade_index]
        if shape.level is Level.ELEMENTARY:
            title = f"{template.title} - {grade_label(grade)} {section + 1}"
        else:
            title = f"{template.title} - Period {period_label}"
        terms = (ids.term_id(year, "s1"), ids.term_id(year, "s2")) if core else (ids.term_id(year, ""),)
        room = 101 + (seat + 41 * state.location_v) % 500
        return Class(
            external_id=ids.class_id(year, index),
            school_external_id=ids.school_id(school),
            title=title,
            class_code=code,
            course_external_id=ids.course_id(school, template_index),
            course_code=template.code,
            course_title=template.title,
            term_external_ids=terms,
            subjects=(template.subject,),
            grades=(grade,),
            periods=(period_label,),
            location=f"Room {room}",
        )

    def enrollment(
        self, model: Model, class_index: int, school: int, user_external_id: str, role: str, primary: bool
    ) -> Enrollment:
        class_external_id = ids.class_id(model.school_year, class_index)
        begin, end = _year_bounds(model.school_year)
        return Enrollment(
            external_id=ids.enrollment_id(class_external_id, user_external_id),
            class_external_id=class_external_id,
            user_external_id=user_external_id,
            school_external_id=self._school_ids[school],
            role=role,
            primary=primary,
            begin_date=begin,
            end_date=end,
        )

    # -- users ----------------------------------------------------------------------------

    def student(self, model: Model, state: StudentState) -> User:
        index = state.index
        key = self._name_keys["student"] ^ index
        name = person_name(key, state.name_v)
        number = str(1_000_000 + index)
        email = None
        if model.student_has_email(state):
            original = name if state.name_v == 0 else None
            email = self._email(key, state.email_v, number, self._student_domain, index, original)
        schools = [self._school_ids[state.school]]
        other = model.second_school(state)
        if other is not None:
            schools.append(self._school_ids[other])
        return User(
            external_id=ids.user_id("student", index),
            role="student",
            given_name=name.given,
            middle_name=name.middle,
            family_name=name.family,
            email=email,
            username=f"s{number}",
            sis_id=number,
            student_number=number,
            state_id=str(1_000_000_000 + (index * 2_654_435_761 + self._state_id_offset) % 9_000_000_000),
            grades=(model.student_grade(state),),
            school_external_ids=tuple(schools),
            primary_school_external_id=schools[0],
            enabled=model.disabled.value(index) >= model.disabled_rate,
        )

    def staff(self, model: Model, state: StaffState) -> User:
        role, index = state.role, state.index
        key = self._name_keys[role] ^ index
        name = person_name(key, state.name_v)
        number = str(_STAFF_NUMBER_BASE[role] + index)
        original = name if state.name_v == 0 else person_name(key)
        username = self._email(key, 0, number, self.spec.domain, None, original).split("@")[0]
        school = self._school_ids[state.school]
        return User(
            external_id=ids.user_id(role, index),
            role=role,
            given_name=name.given,
            middle_name=name.middle,
            family_name=name.family,
            email=self._email(key, state.email_v, number, self.spec.domain, index, original),
            username=username.lower(),
            sis_id=f"{_SIS_PREFIX[role]}{number}",
            grades=(),
            school_external_ids=(school,),
            primary_school_external_id=school,
            enabled=model.disabled.value(index + 10_000_000) >= model.disabled_rate,
        )

    def _email(
        self, key: int, version: int, number: str, domain: str, caps_index: int | None, first: PersonName | None
    ) -> str:
        # addresses are made from the name a person had when the account was created
        first = first or person_name(key)
        given = ascii_token(first.given) or "user"
        family = ascii_token(first.family) or "x"
        local = _EMAIL_FORMATS[version % len(_EMAIL_FORMATS)].format(g=given, g0=given[0], f=family, n=number)
        if version == 0 and caps_index is not None and mix(self._caps_key ^ caps_index) % 20 == 0:
            # some SISs keep addresses as typed: matching must not depend on case
            local = ".".join(part[:1].upper() + part[1:] for part in local.split("."))
        return f"{local}@{domain}"


@functools.lru_cache(maxsize=16)
def _year_bounds(school_year: int) -> tuple[date, date]:
    return term_date(school_year, TERM_TEMPLATES[0].start), term_date(school_year, TERM_TEMPLATES[0].end)
