"""What changed between two states of a district: the churn report and the change stream.

Both come from the model (which records a layer touched and how), not from comparing two full
exports: only records whose state moved are rebuilt. An update is counted when a record that
exists in both states has different content (`Record.content()`, what the sync hashes), and it
is classified by the fields that differ, so the report means exactly what a sync would see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from libs.connectors.records import Enrollment, Record, User
from libs.enums import LOAD_ORDER, EntityType
from libs.generator import ids
from libs.generator.district import District
from libs.generator.layers import LayerKind
from libs.generator.model import Model, StaffState, StudentState


class Change(NamedTuple):
    kind: str  # created, updated, deleted
    record: Record
    at: datetime
    # for updates: which aspects differ (renamed, email_changed, transferred, promoted, relocated)
    aspects: tuple[str, ...] = ()


@dataclass(slots=True)
class EntityChurn:
    added: int = 0
    dropped: int = 0
    updated: int = 0
    # updates by aspect; one update may have several aspects across several layers
    kinds: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "dropped": self.dropped, "updated": self.updated, "kinds": dict(self.kinds)}


@dataclass(slots=True)
class Churn:
    """Per entity type: how many records were added, dropped and updated."""

    entities: dict[EntityType, EntityChurn]
    description: str = ""

    def __getitem__(self, entity: EntityType) -> EntityChurn:
        return self.entities[entity]

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "entities": {entity.value: self.entities[entity].as_dict() for entity in LOAD_ORDER},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=False) + "\n"

    def write(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Churn:
        entities = {
            EntityType(name): EntityChurn(
                added=value["added"], dropped=value["dropped"], updated=value["updated"], kinds=dict(value["kinds"])
            )
            for name, value in data["entities"].items()
        }
        return cls(entities=entities, description=data.get("description", ""))


def churn_between(base: District, district: District) -> Churn:
    entities = {entity: EntityChurn() for entity in LOAD_ORDER}
    for change in changes_between(base, district):
        counts = entities[change.record.entity_type]
        if change.kind == "created":
            counts.added += 1
        elif change.kind == "deleted":
            counts.dropped += 1
        else:
            counts.updated += 1
            for aspect in change.aspects:
                counts.kinds[aspect] = counts.kinds.get(aspect, 0) + 1
    layers = district.layers[len(base.layers) :]
    parts = [
        f"{layer.kind.value}" + (f" {layer.percent:g}%" if layer.kind is LayerKind.CHURN else "") for layer in layers
    ]
    parts += [f"empty {entity.plural}" for entity in sorted(district.empty - base.empty)]
    return Churn(entities=entities, description=", ".join(parts))


def changes_between(base: District, district: District) -> Iterator[Change]:
    if not base.is_ancestor_of(district):
        raise ValueError("changes are computed from an ancestor state (the district this one was derived from)")
    return _Diff(base, district).changes()


class _Diff:
    def __init__(self, base: District, district: District) -> None:
        self.base, self.district = base, district
        self.old, self.new = base.model, district.model
        self.since = len(base.layers)
        rollovers = [
            k for k, layer in enumerate(district.layers, 1) if k > self.since and layer.kind is LayerKind.ROLLOVER
        ]
        # the first layer after `base` that ended its school year
        self.year_end = rollovers[0] if rollovers else None

    def at(self, k: int) -> datetime:
        return self.district.layer_time(k)

    def changes(self) -> Iterator[Change]:
        for entity in LOAD_ORDER:
            emptied = entity in self.district.empty and entity not in self.base.empty
            if emptied:
                for record in self.base.records(entity):
                    record.tombstone = True
                    yield Change("deleted", record, self.district.as_of)
                continue
            if entity is EntityType.TERM:
                yield from self._terms()
            elif entity is EntityType.CLASS:
                yield from self._classes()
            elif entity is EntityType.USER:
                yield from self._users()
            elif entity is EntityType.ENROLLMENT:
                yield from self._enrollments()

    def _terms(self) -> Iterator[Change]:
        if self.year_end is None:
            return
        for term in self.base.terms():
            term.tombstone = True
            yield Change("deleted", term, self.at(self.year_end))
        for term in self.district.terms():
            yield Change("created", term, self.at(self.new.year_born))

    def _classes(self) -> Iterator[Change]:
        old, new, builder = self.old, self.new, self.district.builder
        if self.year_end is not None:
            for record in self.base.classes():
                record.tombstone = True
                yield Change("deleted", record, self.at(self.year_end))
            for index in range(new.classes_allocated):
                state = new.class_state(index)
                if state.died is None:
                    yield Change("created", builder.klass(new, state), self.at(state.changed))
            return
        for index in range(new.classes_allocated):
            after = new.class_state(index)
            before = old.class_state(index) if index < old.classes_allocated else None
            if before is None or before.died is not None:
                if after.died is None:
                    yield Change("created", builder.klass(new, after), self.at(after.changed))
            elif after.died is not None:
                record = builder.klass(old, before)
                record.tombstone = True
                yield Change("deleted", record, self.at(after.died))
            elif after.changed > self.since:
                old_record, new_record = builder.klass(old, before), builder.klass(new, after)
                if old_record.content() != new_record.content():
                    aspects = ("relocated",) if old_record.location != new_record.location else ("changed",)
                    yield Change("updated", new_record, self.at(after.changed), aspects)

    def _users(self) -> Iterator[Change]:
        old, new = self.old, self.new
        build_student, build_staff = self.district.builder.student, self.district.builder.staff
        for index in range(new.students_allocated):
            before = old.student(index) if index < old.students_allocated else None
            yield from self._user_change(before, new.student(index), build_student)
        for index in range(new.teachers_allocated):
            before_staff = old.teacher(index) if index < old.teachers_allocated else None
            yield from self._user_change(before_staff, new.teacher(index), build_staff)
        for role in ("administrator", "aide"):
            for index in range(self.district.spec.schools * new.staff_per_school[role]):
                yield from self._user_change(old.staff(role, index), new.staff(role, index), build_staff)

    def _user_change(self, before: Any, after: Any, build: Any) -> Iterator[Change]:
        old, new = self.old, self.new
        if before is None or before.died is not None:
            if after.died is None:
                yield Change("created", build(new, after), self.at(after.changed))
        elif after.died is not None:
            record = build(old, before)
            record.tombstone = True
            yield Change("deleted", record, self.at(after.died))
        elif after.changed > self.since:
            old_record, new_record = build(old, before), build(new, after)
            if old_record.content() != new_record.content():
                yield Change("updated", new_record, self.at(after.changed), _user_aspects(old_record, new_record))

    def _enrollments(self) -> Iterator[Change]:
        old, new = self.old, self.new
        for index in range(new.students_allocated):
            before = old.student(index) if index < old.students_allocated else None
            yield from self._enrollment_changes(before, new.student(index))
        for index in range(new.teachers_allocated):
            before_staff = old.teacher(index) if index < old.teachers_allocated else None
            yield from self._enrollment_changes(before_staff, new.teacher(index))

    def _keys(self, model: Any, state: StudentState | StaffState | None) -> dict[int, tuple[int, bool]]:
        """class index -> (school, primary) of a user's enrollments in one state."""
        if state is None or state.died is not None:
            return {}
        if isinstance(state, StudentState):
            return {index: (school, False) for index, school in model.student_classes(state)}
        return {index: (state.school, primary) for index, primary in model.teacher_classes(state)}

    def _enrollment_changes(
        self, before: StudentState | StaffState | None, after: StudentState | StaffState
    ) -> Iterator[Change]:
        old, new, builder = self.old, self.new, self.district.builder
        old_keys, new_keys = self._keys(old, before), self._keys(new, after)
        same_year = self.year_end is None
        if same_year and old_keys == new_keys:
            return
        role = "student" if isinstance(after, StudentState) else "teacher"
        user = ids.user_id(role, after.index)
        for index, (school, primary) in old_keys.items():
            if same_year and new_keys.get(index) == (school, primary):
                continue
            record = builder.enrollment(old, index, school, user, role, primary)
            record.tombstone = True
            yield Change("deleted", record, self.at(self._removed_at(after, index)))
        for index, (school, primary) in new_keys.items():
            if same_year and old_keys.get(index) == (school, primary):
                continue
            record = builder.enrollment(new, index, school, user, role, primary)
            yield Change("created", record, self.at(max(_since(after), new.class_born(index))))

    def _removed_at(self, after: StudentState | StaffState, class_index: int) -> int:
        candidates = [after.died, _since(after), self.year_end]
        if self.year_end is None:
            candidates.append(self.new.class_state(class_index).died)
        return min((k for k in candidates if k is not None and k > self.since), default=len(self.district.layers))


def _since(state: StudentState | StaffState) -> int:
    return state.since if isinstance(state, StudentState) else state.born


def _user_aspects(old: User, new: User) -> tuple[str, ...]:
    aspects = []
    if (old.given_name, old.middle_name, old.family_name) != (new.given_name, new.middle_name, new.family_name):
        aspects.append("renamed")
    if old.email != new.email:
        aspects.append("email_changed")
    if (old.school_external_ids, old.primary_school_external_id) != (
        new.school_external_ids,
        new.primary_school_external_id,
    ):
        aspects.append("transferred")
    if old.grades != new.grades:
        aspects.append("promoted")
    return tuple(aspects) or ("changed",)


def modified_layer(district: District, record: Record) -> int:
    """The layer at which a record of `district` last changed, or (tombstone) was removed."""
    model = district.model
    entity = record.entity_type
    if entity is EntityType.SCHOOL:
        return 0
    if entity is EntityType.TERM:
        year, _ = ids.parse_term_id(record.external_id)
        return _year_layer(district, year, record.tombstone)
    if entity is EntityType.CLASS:
        year, index = ids.parse_class_id(record.external_id)
        if year != model.school_year:
            return _year_layer(district, year, record.tombstone)
        state = model.class_state(index)
        return _pick(state.died, state.changed, record.tombstone, record.external_id)
    if entity is EntityType.USER:
        role, index = ids.parse_user_id(record.external_id)
        user_state = _user_state(district, role, index)
        return _pick(user_state.died, user_state.changed, record.tombstone, record.external_id)
    assert isinstance(record, Enrollment)
    class_external_id, user_external_id = ids.parse_enrollment_id(record.external_id)
    year, class_index = ids.parse_class_id(class_external_id)
    role, index = ids.parse_user_id(user_external_id)
    if record.tombstone:
        return _enrollment_removed(district, year, class_index, role, index)
    if year != model.school_year:
        return _year_layer(district, year, record.tombstone)
    return max(_since(_user_state(district, role, index)), model.class_born(class_index))


def _enrollment_removed(district: District, year: int, class_index: int, role: str, index: int) -> int:
    """The last layer at which the enrollment went from present to absent."""
    removed = None
    present = False
    for k in range(len(district.layers) + 1):
        model = Model(district.layout, district.layers[:k])
        now = model.school_year == year and _enrolled(model, class_index, role, index)
        if present and not now:
            removed = k
        present = now
    if removed is None or present:
        raise ValueError(f"enrollment of {role} {index} in class {class_index} of {year} was not removed")
    return removed


def _enrolled(model: Model, class_index: int, role: str, index: int) -> bool:
    if role == "student":
        if index >= model.students_allocated:
            return False
        student = model.student(index)
        return student.died is None and any(c == class_index for c, _ in model.student_classes(student))
    if role != "teacher" or index >= model.teachers_allocated:
        return False
    teacher = model.teacher(index)
    return teacher.died is None and any(c == class_index for c, _ in model.teacher_classes(teacher))


def _user_state(district: District, role: str, index: int) -> StudentState | StaffState:
    model = district.model
    if role == "student":
        return model.student(index)
    if role == "teacher":
        return model.teacher(index)
    return model.staff(role, index)


def _pick(died: int | None, changed: int, tombstone: bool, external_id: str) -> int:
    if tombstone:
        if died is None:
            raise ValueError(f"{external_id} is still present in this state")
        return died
    if died is not None:
        raise ValueError(f"{external_id} is not present in this state")
    return changed


def _year_layer(district: District, year: int, tombstone: bool) -> int:
    """Layer at which school year `year` began (or, for a tombstone, ended)."""
    offset = year - district.spec.school_year
    if tombstone:
        for k, layer in enumerate(district.layers, 1):
            if layer.kind is LayerKind.ROLLOVER and layer.rollovers > offset:
                return k
        raise ValueError(f"school year {year} has not ended in this state")
    for k, layer in enumerate(district.layers, 1):
        if layer.kind is LayerKind.ROLLOVER and layer.rollovers == offset:
            return k
    return 0
