"""When a record last changed: the layer behind `District.modified_at`."""

from __future__ import annotations

from devkit.generator import ids
from devkit.generator.district import District
from devkit.generator.layers import LayerKind
from devkit.generator.model import Model, StaffState, StudentState
from libs.connectors.records import Enrollment, Record
from libs.enums import EntityType


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
    return max(_user_state(district, role, index).since, model.class_born(class_index))


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
