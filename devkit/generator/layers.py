"""Changes applied to a district, as small deterministic descriptions ("layers").

A district state is its spec plus a sequence of layers (churn days, rollovers). A layer never
lists the records it changes: each record's fate in a layer is a formula of (layer seed, index),
so a state of a million users costs a few hundred bytes. The only per-record data a layer keeps
are the few teachers it replaces and the sections it opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from devkit.generator.catalog import Level
from devkit.generator.hashing import Selector, rate, salt


class LayerKind(StrEnum):
    CHURN = "churn"
    ROLLOVER = "rollover"


class Fate(IntEnum):
    """What one churn layer does to one record that exists when it starts."""

    NONE = 0
    DROP = 1
    RENAME = 2
    EMAIL = 3
    TRANSFER = 4
    RELOCATE = 5


# a churn of P % spreads over these kinds of change, P/5 % each, plus P/5 % new students
CHURN_SHARES = 5


@dataclass(frozen=True, slots=True)
class AddedClass:
    """A section opened mid-year: a study hall or enrichment group of one cohort."""

    index: int
    school: int
    cohort: int
    # its members are the cohort's students whose slot % stride == residue
    stride: int
    residue: int
    teacher_slot: int


@dataclass(frozen=True, slots=True)
class Promotion:
    """How a rollover moves students up.

    In every school one cohort's grade wraps: its students were in the level's last grade. They
    move on to the seats of the next level's wrapping cohort (5th graders to middle schools, 8th
    graders to high schools, spread over the schools in proportion to seats), 12th graders
    graduate, and new students fill the seats no lower level feeds (kindergarten).
    """

    # per school: the wrapping cohort, and the offset of its seats in its level's seat list
    cohort: tuple[int, ...]
    seat_offset: tuple[int, ...]
    # per level: its schools in order, and their seat offsets (plus the total)
    level_schools: dict[Level, tuple[int, ...]]
    level_starts: dict[Level, tuple[int, ...]]
    next_level: dict[Level, Level | None]
    # per school: the offset of its first new student (plus the total)
    entrant_start: tuple[int, ...]


@dataclass(eq=False, slots=True)
class Layer:
    kind: LayerKind
    seed: int
    percent: float
    at: datetime
    # school years rolled over once this layer applies (0 = the spec's school year)
    rollovers: int
    first_student: int = 0
    added_students: int = 0
    promotion: Promotion | None = None
    first_teacher: int = 0
    # replacement teacher index -> the (school, slot) it takes over
    replacements: dict[int, tuple[int, int]] = field(default_factory=dict)
    first_class: int = 0
    added_classes: tuple[AddedClass, ...] = ()
    added_by_cohort: dict[tuple[int, int], tuple[AddedClass, ...]] = field(default_factory=dict)
    added_by_teacher: dict[tuple[int, int], tuple[AddedClass, ...]] = field(default_factory=dict)
    threshold: int = 0
    # rollover: share of teachers who leave (a Selector threshold)
    turnover: int = 0
    keys: dict[str, int] = field(default_factory=dict)
    selectors: dict[str, Selector] = field(default_factory=dict)

    @classmethod
    def make(
        cls, kind: LayerKind, seed: int, percent: float, at: datetime, rollovers: int, district_seed: int
    ) -> Layer:
        layer = cls(kind=kind, seed=seed, percent=percent, at=at, rollovers=rollovers)
        layer.threshold = rate(percent / CHURN_SHARES)
        for purpose in ("student", "teacher", "administrator", "aide", "class", "transfer", "added", "sections"):
            key = salt(district_seed, "layer", kind.value, seed, purpose)
            layer.keys[purpose] = key
            layer.selectors[purpose] = Selector(key)
        return layer

    def fate(self, purpose: str, index: int) -> Fate:
        """The fate of a user (purpose = its role) or a class (purpose = "class")."""
        if self.kind is LayerKind.ROLLOVER:
            # teachers leaving over the summer; new hires take their seats
            if purpose == "teacher" and self.selectors[purpose].value(index) < self.turnover:
                return Fate.DROP
            return Fate.NONE
        if not self.threshold:
            return Fate.NONE
        value, d = self.selectors[purpose].value(index), self.threshold
        if value >= 4 * d:
            return Fate.NONE
        if purpose == "class":
            return Fate.DROP if value < d else Fate.RELOCATE if value < 2 * d else Fate.NONE
        return (Fate.DROP, Fate.RENAME, Fate.EMAIL, Fate.TRANSFER)[value // d]

    def set_added_classes(self, first: int, classes: tuple[AddedClass, ...]) -> None:
        self.first_class = first
        self.added_classes = classes
        by_cohort: dict[tuple[int, int], list[AddedClass]] = {}
        by_teacher: dict[tuple[int, int], list[AddedClass]] = {}
        for added in classes:
            by_cohort.setdefault((added.school, added.cohort), []).append(added)
            by_teacher.setdefault((added.school, added.teacher_slot), []).append(added)
        self.added_by_cohort = {k: tuple(v) for k, v in by_cohort.items()}
        self.added_by_teacher = {k: tuple(v) for k, v in by_teacher.items()}
