"""What changed between two states of a district: the churn report and the change stream.

Both come from the model (which records a layer touched and how), not from comparing two full
exports: only records whose state moved are rebuilt. An update is counted when a record that
exists in both states has different content (`Record.content()`, what the sync hashes), and it
is classified by the fields that differ, so the report means exactly what a sync would see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from devkit.generator import ids
from devkit.generator.district import STAFF_ROLES, District
from devkit.generator.layers import Layer, LayerKind
from devkit.generator.model import Model, StaffState, StudentState
from libs.connectors.records import Class, Record, User
from libs.enums import LOAD_ORDER, EntityType


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
        return json.dumps(self.as_dict(), indent=2) + "\n"

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
    diff = _Diff(base, district)
    for entity in diff.emptied:
        entities[entity].dropped = base.counts()[entity]
    # counting needs no records, except to compare the two versions of an updated one
    for event in diff.events(include_emptied=False):
        counts = entities[event.entity]
        if event.kind == "created":
            counts.added += 1
        elif event.kind == "deleted":
            counts.dropped += 1
        else:
            counts.updated += 1
            for aspect in event.aspects:
                counts.kinds[aspect] = counts.kinds.get(aspect, 0) + 1
    layers = district.layers[len(base.layers) :]
    parts = [_describe(layer) for layer in layers]
    parts += [f"empty {entity.plural}" for entity in sorted(diff.emptied)]
    return Churn(entities=entities, description=", ".join(parts))


def _describe(layer: Layer) -> str:
    if layer.kind is LayerKind.CHURN:
        return f"churn {layer.percent:g}% (seed {layer.seed})"
    return f"rollover to {layer.rollovers} year(s) later (seed {layer.seed})"


def changes_between(base: District, district: District) -> Iterator[Change]:
    diff = _Diff(base, district)
    for event in diff.events(include_emptied=True):
        yield Change(event.kind, event.build(), district.layer_time(event.layer), event.aspects)


class _Event(NamedTuple):
    kind: str
    entity: EntityType
    # builds the record (a tombstone for deletions) only when someone needs it
    build: Callable[[], Record]
    layer: int
    aspects: tuple[str, ...] = ()


class _Diff:
    def __init__(self, base: District, district: District) -> None:
        if not base.is_ancestor_of(district):
            raise ValueError("changes are computed from an ancestor state (the district this one was derived from)")
        self.base, self.district = base, district
        self.old, self.new = base.model, district.model
        self.builder = district.builder
        self.since = len(base.layers)
        self.emptied = district.empty - base.empty
        # the first layer after `base` that ended its school year
        self.year_end = next(
            (k for k, layer in enumerate(district.layers, 1) if k > self.since and layer.kind is LayerKind.ROLLOVER),
            None,
        )
        self.last = len(district.layers)

    def events(self, include_emptied: bool) -> Iterator[_Event]:
        for entity in LOAD_ORDER:
            if entity in self.emptied:
                if include_emptied:
                    for record in self.base.records(entity):
                        yield _Event("deleted", entity, partial(_dead, _same, record), self.last)
                continue
            if entity is EntityType.TERM:
                yield from self._terms()
            elif entity is EntityType.CLASS:
                yield from self._classes()
            elif entity is EntityType.USER:
                yield from self._users()
            elif entity is EntityType.ENROLLMENT:
                yield from self._enrollments()

    def _terms(self) -> Iterator[_Event]:
        if self.year_end is None:
            return
        for term in self.base.terms():
            yield _Event("deleted", EntityType.TERM, partial(_dead, _same, term), self.year_end)
        for term in self.district.terms():
            yield _Event("created", EntityType.TERM, partial(_same, term), self.new.year_born)

    def _classes(self) -> Iterator[_Event]:
        old, new, klass = self.old, self.new, self.builder.klass
        entity = EntityType.CLASS
        if self.year_end is not None:
            for index in range(old.classes_allocated):
                state = old.class_state(index)
                if state.died is None:
                    yield _Event("deleted", entity, partial(_dead, klass, old, state), self.year_end)
            for index in range(new.classes_allocated):
                state = new.class_state(index)
                if state.died is None:
                    yield _Event("created", entity, partial(klass, new, state), state.changed)
            return
        for index in range(new.classes_allocated):
            before = old.class_state(index) if index < old.classes_allocated else None
            yield from self._change(entity, before, new.class_state(index), klass, _class_aspects)

    def _users(self) -> Iterator[_Event]:
        old, new, builder = self.old, self.new, self.builder
        for before, after in self._people():
            build = builder.student if isinstance(after, StudentState) else builder.staff
            yield from self._change(EntityType.USER, before, after, build, _user_aspects)
        for role in STAFF_ROLES:
            for index in range(self.district.spec.schools * new.staff_per_school[role]):
                before, after = old.staff(role, index), new.staff(role, index)
                yield from self._change(EntityType.USER, before, after, builder.staff, _user_aspects)

    def _change(
        self,
        entity: EntityType,
        before: Any,
        after: Any,
        build: Callable[[Model, Any], Any],
        aspects: Callable[[Any, Any], tuple[str, ...]],
    ) -> Iterator[_Event]:
        """The event, if any, of a class or user whose state went from `before` (None: not yet
        allocated) to `after`."""
        old, new = self.old, self.new
        if before is None or before.died is not None:
            if after.died is None:
                yield _Event("created", entity, partial(build, new, after), after.changed)
        elif after.died is not None:
            yield _Event("deleted", entity, partial(_dead, build, old, before), after.died)
        elif after.changed > self.since:
            old_record, new_record = build(old, before), build(new, after)
            if old_record.content() != new_record.content():
                yield _Event(
                    "updated", entity, partial(_same, new_record), after.changed, aspects(old_record, new_record)
                )

    def _people(self) -> Iterator[tuple[Any, Any]]:
        """(state in the base or None, state now) of every student, then every teacher."""
        old, new = self.old, self.new
        for index in range(new.students_allocated):
            yield (old.student(index) if index < old.students_allocated else None), new.student(index)
        for index in range(new.teachers_allocated):
            yield (old.teacher(index) if index < old.teachers_allocated else None), new.teacher(index)

    def _enrollments(self) -> Iterator[_Event]:
        for before, after in self._people():
            yield from self._enrollment_changes(before, after)

    def _keys(self, model: Model, state: StudentState | StaffState | None) -> dict[int, tuple[int, bool]]:
        """class index -> (school, primary) of a user's enrollments in one state."""
        if state is None or state.died is not None:
            return {}
        if isinstance(state, StudentState):
            return {index: (school, False) for index, school in model.student_classes(state)}
        return {index: (state.school, primary) for index, primary in model.teacher_classes(state)}

    def _enrollment_changes(
        self, before: StudentState | StaffState | None, after: StudentState | StaffState
    ) -> Iterator[_Event]:
        old, new, enrollment = self.old, self.new, self.builder.enrollment
        entity = EntityType.ENROLLMENT
        old_keys, new_keys = self._keys(old, before), self._keys(new, after)
        same_year = self.year_end is None
        if same_year and old_keys == new_keys:
            return
        role = "student" if isinstance(after, StudentState) else "teacher"
        user = ids.user_id(role, after.index)
        for index, (school, primary) in old_keys.items():
            if same_year and new_keys.get(index) == (school, primary):
                continue
            tombstone = partial(_dead, enrollment, old, index, school, user, role, primary)
            yield _Event("deleted", entity, tombstone, self._removed_at(after, index))
        for index, (school, primary) in new_keys.items():
            if same_year and old_keys.get(index) == (school, primary):
                continue
            build = partial(enrollment, new, index, school, user, role, primary)
            yield _Event("created", entity, build, max(after.since, new.class_born(index)))

    def _removed_at(self, after: StudentState | StaffState, class_index: int) -> int:
        candidates = [after.died, after.since, self.year_end]
        if self.year_end is None:
            candidates.append(self.new.class_state(class_index).died)
        return min((k for k in candidates if k is not None and k > self.since), default=self.last)


def _same(record: Record) -> Record:
    return record


def _dead(build: Callable[..., Record], *args: Any) -> Record:
    record = build(*args)
    record.tombstone = True
    return record


def _class_aspects(old: Class, new: Class) -> tuple[str, ...]:
    return ("relocated",) if old.location != new.location else ("changed",)


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
