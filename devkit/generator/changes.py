"""Making layers: what one churn day or one rollover changes, decided from the current state.

Most of a layer is formulas (see layers.py); what is computed here is the little a layer must
list: which teachers get replaced, which sections open, how cohorts move up.
"""

from __future__ import annotations

from datetime import datetime

from devkit.generator.catalog import Level
from devkit.generator.hashing import mix, rate
from devkit.generator.layers import CHURN_SHARES, AddedClass, Fate, Layer, LayerKind, Promotion
from devkit.generator.layout import Layout
from devkit.generator.model import Model

# teachers who leave at each rollover (per cent)
TEACHER_TURNOVER_PERCENT = 5.0


def _replace_leaving_teachers(model: Model, layer: Layer) -> None:
    """A leaving teacher's seat (and sections) passes to a new hire with a new id."""
    layer.first_teacher = model.teachers_allocated
    for index in range(model.teachers_allocated):
        if layer.fate("teacher", index) is Fate.DROP:
            state = model.teacher(index)
            if state.died is None:
                layer.replacements[layer.first_teacher + len(layer.replacements)] = (state.school, state.slot)


def _promotion(layout: Layout, rollovers: int) -> Promotion:
    shapes = layout.schools
    cohorts = tuple(-rollovers % shape.grades for shape in shapes)
    sizes = [shape.cohort_size(cohort) for shape, cohort in zip(shapes, cohorts, strict=True)]
    seat_offset = [0] * len(shapes)
    level_starts: dict[Level, tuple[int, ...]] = {}
    for level, schools in layout.by_level.items():
        starts = [0]
        for school in schools:
            seat_offset[school] = starts[-1]
            starts.append(starts[-1] + sizes[school])
        level_starts[level] = tuple(starts)
    present = {level for level, schools in layout.by_level.items() if schools}
    following = {level: Level(level + 1) if level + 1 in present else None for level in Level if level < Level.HIGH}
    next_level: dict[Level, Level | None] = {**following, Level.HIGH: None}
    fed = {target for target in next_level.values() if target is not None}
    entrant_start, total = [], 0
    for school, shape in enumerate(shapes):
        entrant_start.append(total)
        if shape.level not in fed:
            total += sizes[school]
    entrant_start.append(total)
    return Promotion(
        cohort=cohorts,
        seat_offset=tuple(seat_offset),
        level_schools=dict(layout.by_level),
        level_starts=level_starts,
        next_level=next_level,
        entrant_start=tuple(entrant_start),
    )


def churn_layer(model: Model, percent: float, seed: int, at: datetime) -> Layer:
    layout, spec = model.layout, model.spec
    layer = Layer.make(LayerKind.CHURN, seed, percent, at, model.rollovers, spec.seed)
    layer.first_student = model.students_allocated
    layer.added_students = round(spec.students * percent / 100 / CHURN_SHARES)
    _replace_leaving_teachers(model, layer)
    added = []
    first = model.classes_allocated
    for n in range(round(layout.classes * percent / 100 / CHURN_SHARES)):
        # a study hall or enrichment group for one cohort of a school, sized like a class
        key = mix(layer.keys["sections"] ^ n)
        school, cohort, _, _ = layout.class_position(key % layout.classes)
        shape = layout.schools[school]
        stride = max(1, shape.cohort_size(cohort) // spec.class_size)
        added.append(AddedClass(first + n, school, cohort, stride, (key >> 20) % stride, (key >> 40) % shape.teachers))
    layer.set_added_classes(first, tuple(added))
    return layer


def rollover_layer(model: Model, seed: int, at: datetime) -> Layer:
    rollovers = model.rollovers + 1
    layer = Layer.make(LayerKind.ROLLOVER, seed, 0.0, at, rollovers, model.spec.seed)
    layer.turnover = rate(TEACHER_TURNOVER_PERCENT)
    _replace_leaving_teachers(model, layer)
    layer.promotion = _promotion(model.layout, rollovers)
    layer.first_student = model.students_allocated
    layer.added_students = layer.promotion.entrant_start[-1]
    return layer
