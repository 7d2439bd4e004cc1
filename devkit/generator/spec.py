"""What a synthetic district looks like: its size, its seed, and the benchmark tiers."""

from __future__ import annotations

from dataclasses import dataclass, replace


class SpecError(ValueError):
    """A district spec that cannot be generated (sizes out of range, unknown tier)."""


@dataclass(frozen=True, slots=True)
class Tier:
    """A benchmark tier: exact sizes for students, teachers and schools; approximate targets
    for sections and student enrollments (they follow from class sizes, see docs/generator.md)."""

    students: int
    teachers: int
    schools: int
    sections: int
    student_enrollments: int


TIERS: dict[str, Tier] = {
    "S": Tier(students=10_000, teachers=650, schools=15, sections=1_900, student_enrollments=50_000),
    "M": Tier(students=100_000, teachers=6_300, schools=140, sections=19_000, student_enrollments=500_000),
    "L": Tier(students=300_000, teachers=19_000, schools=430, sections=56_000, student_enrollments=1_500_000),
    "XL": Tier(students=1_000_000, teachers=62_500, schools=1_450, sections=190_000, student_enrollments=5_000_000),
}


@dataclass(frozen=True, slots=True)
class DistrictSpec:
    """Sizes and seed of a district; everything else is derived from them deterministically."""

    students: int
    teachers: int
    schools: int
    seed: int = 0
    administrators_per_school: int = 1
    aides_per_school: int = 1
    # sections are cut so that a section holds about this many students
    class_size: int = 26
    # share of students who also attend a second school (per cent)
    multi_school_percent: float = 3.0
    # share of sections taught by a primary teacher and a co-teacher (per cent)
    co_taught_percent: float = 5.0
    # share of students in grade 3 and up with no email (younger students never have one)
    no_email_percent: float = 2.0
    # share of users whose account is disabled (per cent)
    disabled_percent: float = 0.5
    # the calendar year in which the first school year ends (OneRoster `schoolYear`)
    school_year: int = 2025
    district_name: str = "Springfield Unified School District"
    domain: str = "springfield.example.org"

    def __post_init__(self) -> None:
        if self.schools < 1:
            raise SpecError("a district needs at least one school")
        if self.students < self.schools:
            raise SpecError(
                f"{self.students} students cannot fill {self.schools} schools (one student per school at least)"
            )
        if self.teachers < self.schools:
            raise SpecError(
                f"{self.teachers} teachers cannot staff {self.schools} schools (one teacher per school at least)"
            )
        if self.teachers >= 800_000:
            raise SpecError("at most 799,999 teachers")
        if (self.administrators_per_school + self.aides_per_school) * self.schools >= 50_000:
            raise SpecError("at most 49,999 administrators and aides in all")
        if min(self.administrators_per_school, self.aides_per_school) < 0:
            raise SpecError("staff counts cannot be negative")
        if self.class_size < 1:
            raise SpecError("class_size must be at least 1")
        for name in ("multi_school_percent", "co_taught_percent", "no_email_percent", "disabled_percent"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise SpecError(f"{name} must be between 0 and 100, got {value}")
        if not 1900 < self.school_year < 9000:
            raise SpecError(f"school_year {self.school_year} is not a plausible year")

    @classmethod
    def for_tier(cls, tier: str, seed: int = 0) -> DistrictSpec:
        try:
            size = TIERS[tier.upper()]
        except KeyError:
            raise SpecError(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}") from None
        return cls(students=size.students, teachers=size.teachers, schools=size.schools, seed=seed)

    def with_seed(self, seed: int) -> DistrictSpec:
        return replace(self, seed=seed)
