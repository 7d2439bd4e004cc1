"""`District`: a generated district state, streamed record by record.

A District is its spec plus the layers applied to it (see layers.py); constructing one is cheap
and every iterator starts afresh, rebuilding each record from its index. Memory does not grow
with the district: the largest tables are per school.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from devkit.generator import ids
from devkit.generator.build import Builder, Course
from devkit.generator.changes import churn_layer, rollover_layer
from devkit.generator.layers import Layer
from devkit.generator.layout import Layout
from devkit.generator.model import Model, StaffState, StudentState
from devkit.generator.spec import DistrictSpec, SpecError
from libs.connectors.records import Class, Enrollment, Record, School, Term, User
from libs.enums import EntityType

if TYPE_CHECKING:
    from devkit.generator.churn import Change, Churn

STAFF_ROLES = ("administrator", "aide")
_EMPTYABLE = {
    "schools": EntityType.SCHOOL,
    "terms": EntityType.TERM,
    "classes": EntityType.CLASS,
    "users": EntityType.USER,
    "enrollments": EntityType.ENROLLMENT,
}


class District:
    def __init__(
        self,
        spec: DistrictSpec,
        *,
        _layout: Layout | None = None,
        _layers: tuple[Layer, ...] = (),
        _empty: frozenset[EntityType] = frozenset(),
        _parent: District | None = None,
    ) -> None:
        self.spec = spec
        self.layout = _layout or Layout(spec)
        self.layers = _layers
        self.empty = _empty
        self.parent = _parent
        self.model = Model(self.layout, _layers)
        self.builder = Builder(self.layout)

    def __repr__(self) -> str:
        changes = ", ".join(f"{layer.kind.value}({layer.percent:g}%, seed={layer.seed})" for layer in self.layers)
        return f"District({self.spec!r}{', ' + changes if changes else ''})"

    # -- time -----------------------------------------------------------------------------

    @property
    def base_time(self) -> datetime:
        """When the base state was exported: 1 August before its first school year starts."""
        return datetime(self.spec.school_year - 1, 8, 1, tzinfo=UTC)

    def layer_time(self, k: int) -> datetime:
        return self.base_time if k == 0 else self.layers[k - 1].at

    @property
    def as_of(self) -> datetime:
        """When this state was current (the time of its last change)."""
        return self.layer_time(len(self.layers))

    @property
    def school_year(self) -> int:
        return self.model.school_year

    # -- records --------------------------------------------------------------------------

    def schools(self) -> Iterator[School]:
        if EntityType.SCHOOL in self.empty:
            return
        for index in range(self.spec.schools):
            yield self.builder.school(index)

    def terms(self) -> Iterator[Term]:
        if EntityType.TERM in self.empty:
            return
        yield from self.builder.terms(self.school_year)

    def courses(self) -> Iterator[Course]:
        for index in range(self.spec.schools):
            yield from self.builder.courses(index)

    def classes(self) -> Iterator[Class]:
        if EntityType.CLASS in self.empty:
            return
        model, builder = self.model, self.builder
        for index in range(model.classes_allocated):
            state = model.class_state(index)
            if state.died is None:
                yield builder.klass(model, state)

    def users(self) -> Iterator[User]:
        if EntityType.USER in self.empty:
            return
        for state in self.student_states():
            yield self.builder.student(self.model, state)
        for staff in self.staff_states():
            yield self.builder.staff(self.model, staff)

    def enrollments(self) -> Iterator[Enrollment]:
        if EntityType.ENROLLMENT in self.empty:
            return
        for state in self.student_states():
            yield from self.student_enrollments(state)
        for staff in self.staff_states(roles=("teacher",)):
            yield from self.teacher_enrollments(staff)

    def records(self, entity: EntityType) -> Iterator[Record]:
        iterators = {
            EntityType.SCHOOL: self.schools,
            EntityType.TERM: self.terms,
            EntityType.CLASS: self.classes,
            EntityType.USER: self.users,
            EntityType.ENROLLMENT: self.enrollments,
        }
        return iterators[entity]()

    # -- states (the model underneath the records) ----------------------------------------

    def student_states(self) -> Iterator[StudentState]:
        model = self.model
        for index in range(model.students_allocated):
            state = model.student(index)
            if state.died is None:
                yield state

    def staff_states(self, roles: tuple[str, ...] = ("teacher", *STAFF_ROLES)) -> Iterator[StaffState]:
        model = self.model
        if "teacher" in roles:
            for index in range(model.teachers_allocated):
                state = model.teacher(index)
                if state.died is None:
                    yield state
        for role in STAFF_ROLES:
            if role in roles:
                for index in range(self.spec.schools * model.staff_per_school[role]):
                    yield model.staff(role, index)

    def student_enrollments(self, state: StudentState) -> Iterator[Enrollment]:
        model, builder = self.model, self.builder
        user = ids.user_id("student", state.index)
        for index, school in model.student_classes(state):
            yield builder.enrollment(model, index, school, user, "student", False)

    def teacher_enrollments(self, state: StaffState) -> Iterator[Enrollment]:
        model, builder = self.model, self.builder
        user = ids.user_id("teacher", state.index)
        for index, primary in model.teacher_classes(state):
            yield builder.enrollment(model, index, state.school, user, "teacher", primary)

    # -- sizes ----------------------------------------------------------------------------

    def counts(self) -> dict[EntityType, int]:
        """Exact record counts: by formula for a base state, by walking the model (no records
        are built) for a changed one."""
        counts = dict(self._counts)
        for entity in self.empty:
            counts[entity] = 0
        return counts

    @cached_property
    def _counts(self) -> dict[EntityType, int]:
        if self.parent is not None and self.parent.layers == self.layers:
            return self.parent._counts
        if not self.layers:
            return self._base_counts()
        model, spec = self.model, self.spec
        students = teachers = enrollments = 0
        for state in self.student_states():
            students += 1
            enrollments += sum(1 for _ in model.student_classes(state))
        for staff in self.staff_states(roles=("teacher",)):
            teachers += 1
            enrollments += sum(1 for _ in model.teacher_classes(staff))
        return {
            EntityType.SCHOOL: spec.schools,
            EntityType.TERM: len(self.builder.terms(self.school_year)),
            EntityType.CLASS: sum(1 for index in range(model.classes_allocated) if model.class_alive(index)),
            EntityType.USER: students + teachers + spec.schools * sum(model.staff_per_school.values()),
            EntityType.ENROLLMENT: enrollments,
        }

    def _base_counts(self) -> dict[EntityType, int]:
        layout, model, spec = self.layout, self.model, self.spec
        staff = spec.schools * (spec.administrators_per_school + spec.aides_per_school)
        student_enrollments = sum(shape.students * shape.periods for shape in layout.schools)
        second_school = model.second_school_count()
        teacher_enrollments = layout.classes + model.co_taught_count()
        return {
            EntityType.SCHOOL: spec.schools,
            EntityType.TERM: len(self.builder.terms(self.school_year)),
            EntityType.CLASS: layout.classes,
            EntityType.USER: spec.students + spec.teachers + staff,
            EntityType.ENROLLMENT: student_enrollments + second_school + teacher_enrollments,
        }

    # -- changes --------------------------------------------------------------------------

    def with_churn(self, percent: float = 1.0, seed: int = 1) -> District:
        """The state one day later, with `percent` % of users changed (see docs/generator.md)."""
        if not 0 <= percent <= 100:
            raise SpecError(f"churn must be between 0 and 100 per cent, got {percent}")
        self._check_no_empty()
        return self._derive(churn_layer(self.model, percent, seed, self.as_of + timedelta(days=1)))

    def with_rollover(self, seed: int = 1) -> District:
        """The next school year: new terms, sections and enrollments; students promoted (5th and
        8th graders to middle and high schools), graduates gone, a new kindergarten; some
        teachers replaced."""
        self._check_no_empty()
        start = datetime(self.school_year, 8, 1, tzinfo=UTC)
        return self._derive(rollover_layer(self.model, seed, max(start, self.as_of + timedelta(days=1))))

    def with_empty(self, entity: str) -> District:
        """The same state with one file's worth of records missing (a broken feed).

        `enrollments` keeps the package consistent; emptying another entity leaves dangling
        references on purpose."""
        try:
            entity_type = _EMPTYABLE[entity] if entity in _EMPTYABLE else EntityType(entity)
        except ValueError:
            raise SpecError(f"cannot empty {entity!r}; choose one of {', '.join(_EMPTYABLE)}") from None
        return District(
            self.spec, _layout=self.layout, _layers=self.layers, _empty=self.empty | {entity_type}, _parent=self
        )

    def _derive(self, layer: Layer) -> District:
        return District(self.spec, _layout=self.layout, _layers=(*self.layers, layer), _parent=self)

    def _check_no_empty(self) -> None:
        if self.empty:
            raise SpecError("an emptied district is a broken feed, not a state to change further")

    @cached_property
    def churn(self) -> Churn:
        """What changed from the parent state (the district this one was derived from)."""
        from devkit.generator.churn import churn_between

        if self.parent is None:
            raise SpecError("a base district has no churn: derive one with with_churn() or with_rollover()")
        return churn_between(self.parent, self)

    def changes_since(self, base: District) -> Iterator[tuple[str, Record]]:
        """("created" | "updated" | "deleted", record) from `base` (an ancestor) to this state;
        deleted records are the last version seen, with tombstone=True."""
        for change in self.timed_changes_since(base):
            yield change.kind, change.record

    def timed_changes_since(self, base: District) -> Iterator[Change]:
        from devkit.generator.churn import changes_between

        return changes_between(base, self)

    def modified_at(self, record: Record) -> datetime:
        """When a record of this state last changed (for a tombstone: when it was removed)."""
        from devkit.generator.stamps import modified_layer

        return self.layer_time(modified_layer(self, record))

    def is_ancestor_of(self, other: District) -> bool:
        return (
            self.spec == other.spec
            and other.layers[: len(self.layers)] == self.layers
            and len(self.layers) <= len(other.layers)
            and self.empty <= other.empty
        )
