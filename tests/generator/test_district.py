"""A generated district: sizes, references, realism."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from devkit.generator import TIERS, District, DistrictSpec, SpecError
from libs.enums import EntityType


def test_small_tier_counts_are_exact_and_match_the_tier(small: District) -> None:
    counts = small.counts()
    tier = TIERS["S"]
    streamed = {
        EntityType.SCHOOL: sum(1 for _ in small.schools()),
        EntityType.TERM: sum(1 for _ in small.terms()),
        EntityType.CLASS: sum(1 for _ in small.classes()),
        EntityType.USER: sum(1 for _ in small.users()),
        EntityType.ENROLLMENT: sum(1 for _ in small.enrollments()),
    }
    assert counts == streamed
    assert counts[EntityType.SCHOOL] == tier.schools
    roles = Counter(user.role for user in small.users())
    assert roles["student"] == tier.students
    assert roles["teacher"] == tier.teachers
    assert roles["administrator"] == roles["aide"] == tier.schools
    assert abs(counts[EntityType.CLASS] - tier.sections) / tier.sections < 0.05
    student_enrollments = sum(1 for e in small.enrollments() if e.role == "student")
    assert abs(student_enrollments - tier.student_enrollments) / tier.student_enrollments < 0.05


@pytest.mark.parametrize("tier", ["M", "L", "XL"])
def test_larger_tiers_are_sized_as_stated_without_generating_them(tier: str) -> None:
    size = TIERS[tier]
    counts = District(DistrictSpec.for_tier(tier, seed=3)).counts()
    assert counts[EntityType.SCHOOL] == size.schools
    assert counts[EntityType.USER] == size.students + size.teachers + 2 * size.schools
    assert abs(counts[EntityType.CLASS] - size.sections) / size.sections < 0.06
    enrollments = counts[EntityType.ENROLLMENT]
    assert size.student_enrollments < enrollments < size.student_enrollments * 1.1


def test_every_reference_resolves(small: District) -> None:
    schools = {school.external_id for school in small.schools()}
    terms = {term.external_id: term for term in small.terms()}
    courses = {course.external_id: course for course in small.courses()}
    classes = {klass.external_id: klass for klass in small.classes()}
    users = {user.external_id: user for user in small.users()}
    for term in terms.values():
        assert term.parent_external_id is None or term.parent_external_id in terms
    for klass in classes.values():
        assert klass.school_external_id in schools
        assert set(klass.term_external_ids) <= terms.keys()
        assert courses[klass.course_external_id].school_external_id == klass.school_external_id
    for user in users.values():
        assert set(user.school_external_ids) <= schools
        assert user.primary_school_external_id == user.school_external_ids[0]
    seen = set()
    for enrollment in small.enrollments():
        assert enrollment.external_id not in seen
        seen.add(enrollment.external_id)
        klass = classes[enrollment.class_external_id]
        user = users[enrollment.user_external_id]
        assert enrollment.school_external_id == klass.school_external_id
        # a student's classes are at schools they attend
        assert klass.school_external_id in user.school_external_ids
        assert enrollment.role == user.role


def test_sections_have_one_primary_teacher_and_some_a_co_teacher(small: District) -> None:
    primaries: Counter[str] = Counter()
    co_teachers: Counter[str] = Counter()
    for enrollment in small.enrollments():
        if enrollment.role == "teacher":
            (primaries if enrollment.primary else co_teachers)[enrollment.class_external_id] += 1
    classes = {klass.external_id for klass in small.classes()}
    assert set(primaries) == classes
    assert set(primaries.values()) == {1}
    assert set(co_teachers.values()) == {1}
    assert 0.02 < len(co_teachers) / len(classes) < 0.08


def test_some_students_attend_two_schools_and_some_have_no_email(small: District) -> None:
    students = [user for user in small.users() if user.role == "student"]
    multi = sum(1 for user in students if len(user.school_external_ids) == 2)
    assert 0.02 < multi / len(students) < 0.04
    without_email = [user for user in students if user.email is None]
    assert without_email
    assert {user.grades[0] for user in without_email} >= {"KG", "01", "02"}
    assert all(user.email for user in small.users() if user.role != "student")
    emails = [user.email.lower() for user in small.users() if user.email]
    assert len(emails) == len(set(emails))


def test_names_carry_accents_cjk_hangul_apostrophes_and_hyphens(small: District) -> None:
    names = [f"{user.given_name} {user.middle_name or ''} {user.family_name}" for user in small.users()]
    text = "".join(names)
    assert any(unicodedata.category(ch) == "Lo" and "\u4e00" <= ch <= "\u9fff" for ch in text)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in text)
    assert any(ch in text for ch in "éñüøłễ")
    assert "'" in text
    assert any("-" in (user.family_name or "") for user in small.users())


def test_same_seed_same_records_different_seed_different_records() -> None:
    spec = DistrictSpec(students=300, teachers=20, schools=3, seed=5)
    first = [user.content() for user in District(spec).users()]
    assert first == [user.content() for user in District(spec).users()]
    assert first != [user.content() for user in District(spec.with_seed(6)).users()]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"students": 10, "teachers": 5, "schools": 0}, "at least one school"),
        ({"students": 2, "teachers": 5, "schools": 3}, "cannot fill"),
        ({"students": 20, "teachers": 2, "schools": 3}, "cannot staff"),
        ({"students": 20, "teachers": 5, "schools": 3, "multi_school_percent": 120}, "between 0 and 100"),
    ],
)
def test_impossible_specs_are_refused_with_the_reason(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        DistrictSpec(**kwargs)


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(SpecError, match="unknown tier 'XXL'"):
        DistrictSpec.for_tier("XXL")
