"""The district's arithmetic shape: where each base student, teacher and section sits.

Students fill schools in equal contiguous blocks and, inside a school, one block per grade
("cohort"); sections are cut per (school, cohort, period); teachers are spread over schools in
proportion to their sections. Everything is a formula of the index, so nothing is stored per
record: the tables here are per school (a few thousand entries for the largest tier).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

from devkit.generator.catalog import LEVEL_GRADES, LEVEL_PERIODS, Level, school_level
from devkit.generator.spec import DistrictSpec


@dataclass(frozen=True, slots=True)
class SchoolShape:
    level: Level
    grades: int  # cohorts (grades) of the level
    periods: int
    first_student: int
    students: int
    cohort_start: tuple[int, ...]  # local index of each cohort's first student, plus the end
    cohort_sections: tuple[int, ...]  # sections per period of each cohort
    cohort_class_offset: tuple[int, ...]  # local index of each cohort's first section
    classes: int
    first_class: int
    first_teacher: int
    teachers: int

    def cohort_size(self, cohort: int) -> int:
        return self.cohort_start[cohort + 1] - self.cohort_start[cohort]


def section_of(slot: int, period: int, sections: int) -> int:
    """Which of a cohort's sections the student in `slot` attends in `period`.

    Row k of the slots (k = slot // sections) shifts by k each period, so classmates differ
    from period to period, and every section of a period gets one student of each full row:
    section sizes differ by at most one.
    """
    return (slot % sections + period * (slot // sections)) % sections


class Layout:
    def __init__(self, spec: DistrictSpec) -> None:
        self.spec = spec
        n_schools, n_students = spec.schools, spec.students
        shapes: list[SchoolShape] = []
        first_class = 0
        for school in range(n_schools):
            level = school_level(school)
            grades = len(LEVEL_GRADES[level])
            periods = LEVEL_PERIODS[level]
            first = school * n_students // n_schools
            size = (school + 1) * n_students // n_schools - first
            starts = tuple(cohort * size // grades for cohort in range(grades + 1))
            sections = tuple(_sections(starts[c + 1] - starts[c], spec.class_size) for c in range(grades))
            offsets = [0]
            for count in sections:
                offsets.append(offsets[-1] + count * periods)
            shapes.append(
                SchoolShape(
                    level=level,
                    grades=grades,
                    periods=periods,
                    first_student=first,
                    students=size,
                    cohort_start=starts,
                    cohort_sections=sections,
                    cohort_class_offset=tuple(offsets),
                    classes=offsets[-1],
                    first_class=first_class,
                    first_teacher=0,
                    teachers=0,
                )
            )
            first_class += offsets[-1]
        self.classes = first_class
        # every school gets one teacher, the rest go by share of sections
        spare = spec.teachers - n_schools
        cumulative = 0
        self.teacher_start = []
        for school, shape in enumerate(shapes):
            self.teacher_start.append(school + spare * cumulative // max(self.classes, 1))
            cumulative += shape.classes
        self.teacher_start.append(spec.teachers)
        bounds = self.teacher_start
        self.schools = tuple(
            replace(shape, first_teacher=bounds[s], teachers=bounds[s + 1] - bounds[s])
            for s, shape in enumerate(shapes)
        )
        self.class_start = [shape.first_class for shape in self.schools] + [self.classes]
        self.by_level: dict[Level, tuple[int, ...]] = {
            level: tuple(s for s, shape in enumerate(self.schools) if shape.level is level) for level in Level
        }

    def student_position(self, index: int) -> tuple[int, int, int]:
        """(school, cohort, slot) of a base student."""
        n_schools, n_students = self.spec.schools, self.spec.students
        school = ((index + 1) * n_schools - 1) // n_students
        shape = self.schools[school]
        local = index - shape.first_student
        cohort = ((local + 1) * shape.grades - 1) // shape.students
        return school, cohort, local - shape.cohort_start[cohort]

    def teacher_position(self, index: int) -> tuple[int, int]:
        """(school, slot) of a base teacher."""
        school = bisect.bisect_right(self.teacher_start, index) - 1
        return school, index - self.teacher_start[school]

    def class_position(self, index: int) -> tuple[int, int, int, int]:
        """(school, cohort, period, section) of a base class of any school year."""
        school = bisect.bisect_right(self.class_start, index) - 1
        shape = self.schools[school]
        local = index - shape.first_class
        cohort = bisect.bisect_right(shape.cohort_class_offset, local) - 1
        period, section = divmod(local - shape.cohort_class_offset[cohort], shape.cohort_sections[cohort])
        return school, cohort, period, section


def _sections(students: int, class_size: int) -> int:
    if students <= 0:
        return 0
    return max(1, (students + class_size // 2) // class_size)
