"""The state of every record of a district after a sequence of layers, computed per index.

`Model(layout, layers)` answers "where is student 123 now, under which name, since when?"
without looking at any other record, which is what lets the generator stream a district of any
size in constant memory and rebuild any single record on demand.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

from devkit.generator.catalog import FIRST_GRADE_WITH_EMAIL, LEVEL_GRADES, Level
from devkit.generator.hashing import Selector, mix, rate, salt
from devkit.generator.layers import Fate, Layer, LayerKind
from devkit.generator.layout import Layout, section_of

_EMAIL_GRADE = LEVEL_GRADES[Level.ELEMENTARY].index(FIRST_GRADE_WITH_EMAIL)


class StudentState:
    __slots__ = ("born", "changed", "cohort", "died", "email_v", "index", "name_v", "school", "since", "slot")

    def __init__(self, index: int, school: int, cohort: int, slot: int, born: int) -> None:
        self.index, self.school, self.cohort, self.slot = index, school, cohort, slot
        self.name_v = self.email_v = 0
        # layer numbers: 0 is the base state, k the k-th layer
        self.born = self.changed = self.since = born
        self.died: int | None = None


class StaffState:
    """A teacher, administrator or aide: a (school, slot) seat and a name."""

    __slots__ = ("born", "changed", "died", "email_v", "index", "name_v", "role", "school", "slot")

    def __init__(self, role: str, index: int, school: int, slot: int, born: int) -> None:
        self.role, self.index, self.school, self.slot = role, index, school, slot
        self.name_v = self.email_v = 0
        self.born = self.changed = born
        self.died: int | None = None

    @property
    def since(self) -> int:
        """The layer since which the seat's sections are this person's."""
        return self.born


class ClassState:
    __slots__ = ("born", "changed", "died", "index", "location_v")

    def __init__(self, index: int, born: int) -> None:
        self.index, self.born, self.changed = index, born, born
        self.location_v = 0
        self.died: int | None = None


class Model:
    def __init__(self, layout: Layout, layers: Sequence[Layer]) -> None:
        spec = layout.spec
        self.layout, self.spec, self.layers = layout, spec, tuple(layers)
        self.rollovers = self.layers[-1].rollovers if self.layers else 0
        self.school_year = spec.school_year + self.rollovers
        # the current school year began at the last rollover; its churn layers follow it
        self.year_born = max((k for k, lay in enumerate(self.layers, 1) if lay.kind is LayerKind.ROLLOVER), default=0)
        self.year_layers = tuple((k, lay) for k, lay in enumerate(self.layers, 1) if k > self.year_born)
        self.students_allocated = spec.students + sum(lay.added_students for lay in self.layers)
        self.teachers_allocated = spec.teachers + sum(len(lay.replacements) for lay in self.layers)
        self.classes_allocated = layout.classes + sum(len(lay.added_classes) for _, lay in self.year_layers)
        self.staff_per_school = {"administrator": spec.administrators_per_school, "aide": spec.aides_per_school}
        self._multi = Selector(salt(spec.seed, "multi-school"))
        self._multi_rate = rate(spec.multi_school_percent) if spec.schools > 1 else 0
        self._multi_key = salt(spec.seed, "partner")
        self._co = Selector(salt(spec.seed, "co-taught"))
        self._co_rate = rate(spec.co_taught_percent)
        self._no_email = Selector(salt(spec.seed, "no-email"))
        self._no_email_rate = rate(spec.no_email_percent)
        self.disabled = Selector(salt(spec.seed, "disabled"))
        self.disabled_rate = rate(spec.disabled_percent)

    # -- students -------------------------------------------------------------------------

    def student(self, index: int) -> StudentState:
        """The student's state after all layers (`died` is set if it left the district)."""
        state = self._student_birth(index)
        for k in range(state.born + 1, len(self.layers) + 1):
            layer = self.layers[k - 1]
            if layer.kind is LayerKind.ROLLOVER:
                if not self._promote(state, layer):
                    state.died = k
                    return state
                state.changed = state.since = k
                continue
            fate = layer.fate("student", index)
            if fate is Fate.NONE:
                continue
            if fate is Fate.DROP:
                state.died = k
                return state
            if fate is Fate.RENAME:
                state.name_v += 1
                state.changed = k
            elif fate is Fate.EMAIL:
                if self.student_has_email(state, layer.rollovers):
                    state.email_v += 1
                    state.changed = k
            elif self._transfer(state, layer):
                state.changed = state.since = k
        return state

    def _student_birth(self, index: int) -> StudentState:
        layout = self.layout
        if index < self.spec.students:
            school, cohort, slot = layout.student_position(index)
            return StudentState(index, school, cohort, slot, 0)
        for k, layer in enumerate(self.layers, 1):
            offset = index - layer.first_student
            if 0 <= offset < layer.added_students:
                promotion = layer.promotion
                if promotion is not None:
                    school = _bisect_school(promotion.entrant_start, offset)
                    slot = offset - promotion.entrant_start[school]
                    return StudentState(index, school, promotion.cohort[school], slot, k)
                # a new student takes the schedule of a random existing seat
                school, cohort, slot = layout.student_position(mix(layer.keys["added"] ^ index) % self.spec.students)
                return StudentState(index, school, cohort, slot, k)
        raise IndexError(f"student {index} was never allocated")

    def _promote(self, state: StudentState, layer: Layer) -> bool:
        """Apply a rollover; False if the student leaves the district (graduates)."""
        promotion = layer.promotion
        assert promotion is not None
        school = state.school
        if state.cohort != promotion.cohort[school]:
            return True
        level = self.layout.schools[school].level
        target = promotion.next_level[level]
        if target is None:
            return False
        seats = promotion.level_starts[level][-1]
        target_seats = promotion.level_starts[target]
        if not target_seats[-1]:
            return False
        rank = (promotion.seat_offset[school] + state.slot) * target_seats[-1] // seats
        position = _bisect_school(target_seats, rank)
        state.school = promotion.level_schools[target][position]
        state.cohort = promotion.cohort[state.school]
        state.slot = rank - target_seats[position]
        return True

    def _transfer(self, state: StudentState, layer: Layer) -> bool:
        layout = self.layout
        peers = layout.by_level[layout.schools[state.school].level]
        if len(peers) < 2:
            return False
        h = mix(layer.keys["transfer"] ^ state.index)
        pick = peers[h % (len(peers) - 1)]
        target = pick if pick != state.school else peers[-1]
        size = layout.schools[target].cohort_size(state.cohort)
        if size == 0:
            return False
        state.school, state.slot = target, (h >> 32) % size
        return True

    def student_grade(self, state: StudentState, rollovers: int | None = None) -> str:
        shape = self.layout.schools[state.school]
        r = self.rollovers if rollovers is None else rollovers
        return LEVEL_GRADES[shape.level][(state.cohort + r) % shape.grades]

    def student_has_email(self, state: StudentState, rollovers: int | None = None) -> bool:
        shape = self.layout.schools[state.school]
        r = self.rollovers if rollovers is None else rollovers
        if shape.level is Level.ELEMENTARY and (state.cohort + r) % shape.grades < _EMAIL_GRADE:
            return False
        return self._no_email.value(state.index) >= self._no_email_rate

    def second_school(self, state: StudentState) -> int | None:
        if self._multi.value(state.index) >= self._multi_rate:
            return None
        n = self.spec.schools
        return (state.school + 1 + mix(self._multi_key ^ state.index ^ (state.school << 40)) % (n - 1)) % n

    def student_classes(self, state: StudentState) -> Iterator[tuple[int, int]]:
        """(class index, school) of a student's current-year classes (alive ones only)."""
        layout = self.layout
        school = state.school
        shape = layout.schools[school]
        sections = shape.cohort_sections[state.cohort]
        first = shape.first_class + shape.cohort_class_offset[state.cohort]
        slot = state.slot
        for period in range(shape.periods):
            index = first + period * sections + section_of(slot, period, sections)
            if self.class_alive(index):
                yield index, school
        other = self.second_school(state)
        if other is not None:
            target = layout.schools[other]
            index = target.first_class + mix(self._multi_key ^ ~state.index) % target.classes
            if self.class_alive(index):
                yield index, other
        key = (school, state.cohort)
        for _, layer in self.year_layers:
            for added in layer.added_by_cohort.get(key, ()):
                if slot % added.stride == added.residue and self.class_alive(added.index):
                    yield added.index, school

    def second_school_count(self) -> int:
        """Base students attending a second school (counted by formula)."""
        return self._multi.count_below(0, self.spec.students, self._multi_rate)

    def co_taught_count(self) -> int:
        """Base sections with a co-teacher (counted by formula)."""
        schools = self.layout.schools
        if all(shape.teachers >= 2 for shape in schools):
            return self._co.count_below(0, self.layout.classes, self._co_rate)
        return sum(
            self._co.count_below(shape.first_class, shape.first_class + shape.classes, self._co_rate)
            for shape in schools
            if shape.teachers >= 2
        )

    # -- teachers, administrators, aides --------------------------------------------------

    def teacher(self, index: int) -> StaffState:
        if index < self.spec.teachers:
            school, slot = self.layout.teacher_position(index)
            state = StaffState("teacher", index, school, slot, 0)
        else:
            state = self._replacement(index)
        return self._staff_churn(state)

    def _replacement(self, index: int) -> StaffState:
        for k, layer in enumerate(self.layers, 1):
            seat = layer.replacements.get(index)
            if seat is not None:
                return StaffState("teacher", index, seat[0], seat[1], k)
        raise IndexError(f"teacher {index} was never allocated")

    def staff(self, role: str, index: int) -> StaffState:
        per_school = self.staff_per_school[role]
        school, slot = divmod(index, per_school)
        return self._staff_churn(StaffState(role, index, school, slot, 0))

    def _staff_churn(self, state: StaffState) -> StaffState:
        for k in range(state.born + 1, len(self.layers) + 1):
            fate = self.layers[k - 1].fate(state.role, state.index)
            if fate is Fate.DROP and state.role == "teacher":
                state.died = k
                return state
            if fate is Fate.RENAME:
                state.name_v += 1
                state.changed = k
            elif fate is Fate.EMAIL:
                state.email_v += 1
                state.changed = k
        return state

    def teacher_classes(self, state: StaffState) -> Iterator[tuple[int, bool]]:
        """(class index, primary) of the current-year sections a teacher teaches."""
        shape = self.layout.schools[state.school]
        seats, slot, first = shape.teachers, state.slot, shape.first_class
        for local in range(slot, shape.classes, seats):
            if self.class_alive(first + local):
                yield first + local, True
        if seats >= 2:
            for local in range((slot - 1) % seats, shape.classes, seats):
                if self.co_taught(first + local) and self.class_alive(first + local):
                    yield first + local, False
        for _, layer in self.year_layers:
            for added in layer.added_by_teacher.get((state.school, slot), ()):
                if self.class_alive(added.index):
                    yield added.index, True

    def co_taught(self, index: int) -> bool:
        return self._co.value(index) < self._co_rate

    # -- classes --------------------------------------------------------------------------

    def class_born(self, index: int) -> int:
        if index < self.layout.classes:
            return self.year_born
        for k, layer in self.year_layers:
            if 0 <= index - layer.first_class < len(layer.added_classes):
                return k
        raise IndexError(f"class {index} was never allocated in this school year")

    def class_alive(self, index: int) -> bool:
        if not self.year_layers:
            return True
        born = self.year_born if index < self.layout.classes else self.class_born(index)
        return not any(k > born and layer.fate("class", index) is Fate.DROP for k, layer in self.year_layers)

    def class_state(self, index: int) -> ClassState:
        state = ClassState(index, self.class_born(index))
        for k, layer in self.year_layers:
            if k <= state.born:
                continue
            fate = layer.fate("class", index)
            if fate is Fate.DROP:
                state.died = k
                break
            if fate is Fate.RELOCATE:
                state.location_v += 1
                state.changed = k
        return state


def _bisect_school(starts: tuple[int, ...], offset: int) -> int:
    return bisect.bisect_right(starts, offset) - 1
