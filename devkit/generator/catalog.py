"""School levels, grades, course catalogues, bell schedules and the school-year calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum


class Level(IntEnum):
    ELEMENTARY = 0
    MIDDLE = 1
    HIGH = 2


# CEDS entry grade codes, as OneRoster writes them
LEVEL_GRADES: dict[Level, tuple[str, ...]] = {
    Level.ELEMENTARY: ("KG", "01", "02", "03", "04", "05"),
    Level.MIDDLE: ("06", "07", "08"),
    Level.HIGH: ("09", "10", "11", "12"),
}
LEVEL_NAMES = {Level.ELEMENTARY: "Elementary School", Level.MIDDLE: "Middle School", Level.HIGH: "High School"}
# classes per student per school day: homeroom + one special, or a seven-period day
LEVEL_PERIODS = {Level.ELEMENTARY: 2, Level.MIDDLE: 7, Level.HIGH: 7}
# of every five schools two are elementary, one middle, two high: 60 % of students are secondary
_LEVEL_PATTERN = (Level.HIGH, Level.ELEMENTARY, Level.MIDDLE, Level.ELEMENTARY, Level.HIGH)
# grades below this one never have an email address
FIRST_GRADE_WITH_EMAIL = "03"


def school_level(school: int) -> Level:
    return _LEVEL_PATTERN[school % len(_LEVEL_PATTERN)]


@dataclass(frozen=True, slots=True)
class CourseTemplate:
    code: str
    title: str
    subject: str
    # None: open to every grade of the level
    grade: str | None = None


def grade_label(grade: str) -> str:
    return "Kindergarten" if grade == "KG" else f"Grade {int(grade)}"


def _elementary() -> tuple[CourseTemplate, ...]:
    homerooms = tuple(
        CourseTemplate(f"HR{g}", f"{grade_label(g)} Homeroom", "Homeroom", g) for g in LEVEL_GRADES[Level.ELEMENTARY]
    )
    specials = (
        CourseTemplate("ART-E", "Art", "Art"),
        CourseTemplate("MUS-E", "Music", "Music"),
        CourseTemplate("PE-E", "Physical Education", "Physical Education"),
        CourseTemplate("LIB-E", "Library Media", "Library"),
    )
    return (*homerooms, *specials, CourseTemplate("ENR-E", "Enrichment", "Enrichment"))


_MIDDLE_ELECTIVES = (
    CourseTemplate("SPA1-M", "Spanish I", "World Languages"),
    CourseTemplate("FRE1-M", "French I", "World Languages"),
    CourseTemplate("BAND-M", "Band", "Music"),
    CourseTemplate("CHOIR-M", "Choir", "Music"),
    CourseTemplate("ART-M", "Art", "Art"),
    CourseTemplate("PE-M", "Physical Education", "Physical Education"),
    CourseTemplate("CS-M", "Computer Science Discoveries", "Computer Science"),
    CourseTemplate("DRAMA-M", "Drama", "Fine Arts"),
)
_HIGH_CORE = {
    "09": ("English 9", "Algebra I", "Biology", "World History"),
    "10": ("English 10", "Geometry", "Chemistry", "World Geography"),
    "11": ("English 11", "Algebra II", "Physics", "U.S. History"),
    "12": ("English 12", "Pre-Calculus", "Environmental Science", "Government & Economics"),
}
_CORE_SUBJECTS = ("English Language Arts", "Mathematics", "Science", "Social Studies")
_HIGH_ELECTIVES = (
    CourseTemplate("SPA1-H", "Spanish I", "World Languages"),
    CourseTemplate("SPA2-H", "Spanish II", "World Languages"),
    CourseTemplate("FRE1-H", "Français I", "World Languages"),
    CourseTemplate("CHI1-H", "Chinese I (中文)", "World Languages"),
    CourseTemplate("ART-H", "Studio Art", "Art"),
    CourseTemplate("BAND-H", "Concert Band", "Music"),
    CourseTemplate("PE-H", "Physical Education", "Physical Education"),
    CourseTemplate("CSP-H", "AP Computer Science Principles", "Computer Science"),
    CourseTemplate("PSY-H", "Psychology", "Social Studies"),
    CourseTemplate("JOUR-H", "Journalism", "English Language Arts"),
)


def _middle() -> tuple[CourseTemplate, ...]:
    core = tuple(
        CourseTemplate(f"{prefix}{g}", f"{title} {int(g)}", subject, g)
        for g in LEVEL_GRADES[Level.MIDDLE]
        for prefix, title, subject in zip(
            ("ELA", "MATH", "SCI", "SS"),
            ("English Language Arts", "Mathematics", "Science", "Social Studies"),
            _CORE_SUBJECTS,
            strict=True,
        )
    )
    return (*core, *_MIDDLE_ELECTIVES, CourseTemplate("STDY-M", "Study Hall", "Study Skills"))


def _high() -> tuple[CourseTemplate, ...]:
    core = tuple(
        CourseTemplate(f"C{g}{n}", title, subject, g)
        for g, titles in _HIGH_CORE.items()
        for n, (title, subject) in enumerate(zip(titles, _CORE_SUBJECTS, strict=True), start=1)
    )
    return (*core, *_HIGH_ELECTIVES, CourseTemplate("STDY-H", "Study Hall", "Study Skills"))


CATALOG: dict[Level, tuple[CourseTemplate, ...]] = {
    Level.ELEMENTARY: _elementary(),
    Level.MIDDLE: _middle(),
    Level.HIGH: _high(),
}
# secondary days: the first periods are the grade's core courses, the rest electives
_CORE_PERIODS = 4
_SPECIALS = 4


def scheduled_course(level: Level, grade_index: int, period: int, section: int) -> int:
    """Index into CATALOG[level] of the course taught in one section of a grade's period."""
    if level is Level.ELEMENTARY:
        if period == 0:
            return grade_index
        return len(LEVEL_GRADES[level]) + (section + grade_index) % _SPECIALS
    if period < _CORE_PERIODS:
        return grade_index * _CORE_PERIODS + period
    electives = len(CATALOG[level]) - 1 - len(LEVEL_GRADES[level]) * _CORE_PERIODS
    return len(LEVEL_GRADES[level]) * _CORE_PERIODS + (section + 3 * period) % electives


def is_core(level: Level, period: int) -> bool:
    return level is not Level.ELEMENTARY and period < _CORE_PERIODS


def enrichment_course(level: Level) -> int:
    """The catalogue entry of sections opened mid-year (study halls, enrichment)."""
    return len(CATALOG[level]) - 1


@dataclass(frozen=True, slots=True)
class TermTemplate:
    suffix: str
    title: str
    type: str
    start: tuple[int, int, int]  # (year offset from the year the school year ends, month, day)
    end: tuple[int, int, int]
    parent: str | None


TERM_TEMPLATES: tuple[TermTemplate, ...] = (
    TermTemplate("", "{start}-{end} School Year", "school_year", (-1, 8, 15), (0, 6, 15), None),
    TermTemplate("s1", "Fall Semester {start}", "semester", (-1, 8, 15), (-1, 12, 20), ""),
    TermTemplate("s2", "Spring Semester {end}", "semester", (0, 1, 6), (0, 6, 15), ""),
    TermTemplate("q1", "Quarter 1 {start}-{end}", "grading_period", (-1, 8, 15), (-1, 10, 17), "s1"),
    TermTemplate("q2", "Quarter 2 {start}-{end}", "grading_period", (-1, 10, 20), (-1, 12, 20), "s1"),
    TermTemplate("q3", "Quarter 3 {start}-{end}", "grading_period", (0, 1, 6), (0, 3, 14), "s2"),
    TermTemplate("q4", "Quarter 4 {start}-{end}", "grading_period", (0, 3, 17), (0, 6, 15), "s2"),
)


def timestamp(moment: datetime) -> str:
    """A moment as OneRoster and Clever write it: ISO 8601 in UTC with milliseconds and Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def term_date(school_year: int, spec: tuple[int, int, int]) -> date:
    offset, month, day = spec
    return date(school_year + offset, month, day)
