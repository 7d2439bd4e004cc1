"""How the pages show API results: schedules in words, durations, run progress, stats, a chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, FormatException, Options

from libs.enums import LOAD_ORDER
from libs.etl import schedule
from libs.etl.details import EntityStats, RunStats
from libs.etl.phase import Phase as RunPhase
from services.api.schemas import Progress, RunSummary
from services.api.ui.forms import humanize

ENTITIES = [e.plural for e in LOAD_ORDER]
STATUS_WORDS = {
    "PENDING": "Waiting",
    "IN_PROGRESS": "Running",
    "SUCCESS": "Success",
    "PARTIAL": "Partial",
    "FAILURE": "Failed",
    "CANCELLED": "Cancelled",
    "HELD": "Held for review",
}


def schedule_words(cron: str | None) -> str:
    if not cron:
        return "Manual only"
    preset = schedule.preset_of(cron)
    if preset is not None:
        return schedule.PRESETS[preset].description
    options = Options()
    options.casing_type = CasingTypeEnum.Sentence
    options.use_24hour_time_format = False
    try:
        return str(ExpressionDescriptor(cron, options).get_description())
    except (FormatException, ValueError, KeyError, IndexError):
        return cron


def utc_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def zoned_text(value: datetime | None, zone: str) -> str:
    """A schedule's instant as the provider's admins read it: in the provider's own zone."""
    if value is None:
        return "—"
    try:
        local = value.astimezone(schedule.zone(zone))
    except schedule.ScheduleError:
        return utc_text(value)
    return local.strftime("%a %Y-%m-%d %H:%M %Z")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def status_word(status: str | None) -> str:
    return STATUS_WORDS.get(status or "", status or "Never run")


def entity_counts(stats: RunStats, entity: str) -> EntityStats:
    counts: EntityStats = getattr(stats, entity)
    return counts


def source_rows(source: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """What the run read, per extract step, as (item, value) rows: nested objects read as a path
    ("Files / users.csv / Rows"), so any connector's account shows without raw JSON."""

    def name(key: str) -> str:
        return key if "." in key else humanize(key.replace("_", " "))

    def words(value: Any) -> str:
        if value is None or value == {} or value == []:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int | float):
            return f"{value:,}"
        if isinstance(value, list):
            return "; ".join(str(v) for v in value)
        return str(value)

    def walk(path: list[str], value: Any, out: list[tuple[str, str]]) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk([*path, name(str(key))], inner, out)
        else:
            out.append((" / ".join(path), words(value)))

    steps = []
    for step, read in (source.get("steps") or {}).items():
        rows: list[tuple[str, str]] = []
        walk([], read, rows)
        steps.append((step, rows))
    return steps


@dataclass
class Phase:
    name: str
    state: str  # waiting, running, done, failed, cancelled
    records: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    parts: tuple[int, int] = (0, 0)  # steps done, steps in all


def phases(progress: Progress | None, current: str | None) -> list[Phase]:
    """The run's phases in order, each with its state and the counts its finished steps reported."""
    steps = progress.steps if progress else []
    # an undo run goes through UNDO and FINALIZE only, a sync through every other phase
    undo = any(RunPhase.UNDO.owns(s.step) for s in steps)
    out = []
    for key in RunPhase:
        if key is not RunPhase.FINALIZE and (key is RunPhase.UNDO) != undo:
            continue
        mine = [s for s in steps if key.owns(s.step)]
        phase = Phase(
            name=key.label, state="waiting", parts=(sum(s.status in ("done", "skipped") for s in mine), len(mine))
        )
        if any(s.status == "failed" for s in mine):
            phase.state = "failed"
        elif any(s.status == "cancelled" for s in mine):
            phase.state = "cancelled"
        elif mine and all(s.status in ("done", "skipped") for s in mine):
            phase.state = "done"
        elif any(s.status in ("running", "done") for s in mine) or key.owns(current or ""):
            phase.state = "running"
        for s in mine:
            phase.records += s.records
            if key is RunPhase.EXTRACT:
                for entity, n in (s.detail.get("counts") or {}).items():
                    plural = _plural(entity)
                    phase.entities[plural] = phase.entities.get(plural, 0) + int(n)
            elif key is RunPhase.STAGE and s.status == "done":
                for entity, planned in (s.detail.get("entities") or {}).items():
                    phase.entities[_plural(entity)] = int(planned.get("received") or 0)
            elif key is RunPhase.LOAD and s.status == "done":
                entity = _plural(s.step.split(":", 1)[1])
                phase.entities[entity] = s.records
        out.append(phase)
    return out


def phase_words(phase: str | None) -> str:
    """`load:enrollment` -> `load (enrollments)`."""
    if not phase:
        return ""
    name, _, entity = phase.partition(":")
    return f"{name} ({_plural(entity)})" if entity else name


def _plural(entity: str) -> str:
    return {"class": "classes"}.get(entity, entity if entity.endswith("s") else entity + "s")


CHART_RUNS = 30


@dataclass
class Chart:
    width: int
    height: int
    bars: list[dict[str, Any]]
    line: str
    points: list[dict[str, Any]]
    max_seconds: float
    max_records: int


def chart(runs: list[RunSummary], *, width: int = 600, height: int = 140) -> Chart:
    """Bars for durations and a line for records received over the last runs, oldest on the left."""
    shown = list(reversed(runs[:CHART_RUNS]))
    pad = 4
    # a fixed slot per run, so one run is one narrow bar and the scale never jumps
    slot = (width - 2 * pad) / CHART_RUNS
    seconds = [r.duration_seconds or 0.0 for r in shown]
    records = [sum(entity_counts(r.stats, e).received for e in ENTITIES) for r in shown]
    max_seconds = max(seconds, default=0.0) or 1.0
    max_records = max(records, default=0) or 1
    bars, points = [], []
    for i, run in enumerate(shown):
        bar_h = (height - 2 * pad) * seconds[i] / max_seconds
        x = pad + i * slot
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(height - pad - bar_h, 1),
                "w": round(slot * 0.7, 1),
                "h": round(max(bar_h, 1.0), 1),
                "status": run.status.value,
                "label": f"{utc_text(run.requested_at)}: {status_word(run.status.value)}, "
                f"{duration(run.duration_seconds)}, {records[i]:,} records",
            }
        )
        y = height - pad - (height - 2 * pad) * records[i] / max_records
        points.append({"x": round(x + slot / 2, 1), "y": round(y, 1)})
    line = " ".join(f"{p['x']},{p['y']}" for p in points)
    return Chart(width, height, bars, line, points, max_seconds if seconds else 0.0, max(records, default=0))
