"""How the pages show API results: schedules in words, durations, run progress, stats, a chart."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, FormatException, Options
from markupsafe import Markup, escape

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


def local_time(value: datetime, zone: str) -> datetime:
    """`value` in the provider's zone; in UTC when the zone is unknown."""
    try:
        return value.astimezone(schedule.zone(zone))
    except schedule.ScheduleError:
        return value.astimezone(UTC)


def relative(value: datetime, now: datetime | None = None) -> str:
    """ "3 h ago", "in 5 min", "just now": how far an instant is from now, roughly."""
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    ahead, seconds = seconds > 0, abs(seconds)
    if seconds < 45:
        return "just now" if not ahead else "in a moment"
    for size, unit in ((86_400 * 365, "y"), (86_400 * 30, "mo"), (86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size * 0.95 or unit == "min":
            amount = max(1, round(seconds / size))
            return f"in {amount} {unit}" if ahead else f"{amount} {unit} ago"
    raise AssertionError("unreachable")  # pragma: no cover


def when(value: datetime | None, zone: str, *, now: datetime | None = None, empty: str = "—") -> Markup:
    """The one way the UI writes an instant: the provider's zone with its abbreviation and the
    time from now, with the exact UTC instant on hover (and for screen readers, in the title)."""
    if value is None:
        return escape(empty)
    local = local_time(value, zone)
    text = f"{local.strftime('%a %Y-%m-%d %H:%M %Z')} · {relative(value, now)}"
    exact = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value.isoformat(), exact, text)


def quiet_seconds(since: datetime | None, now: datetime | None = None) -> float | None:
    """Seconds since a run last reported progress; None when it has not started."""
    if since is None:
        return None
    return max(((now or datetime.now(UTC)) - since).total_seconds(), 0.0)


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
    """A run status in words; a status this UI does not know yet reads as its own name."""
    if not status:
        return "Never run"
    return STATUS_WORDS.get(status, humanize(status.lower().replace("_", " ")))


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
    retries: int = 0  # source requests sent again (throttled or failed), as the steps report them


def _retries(detail: Any) -> int:
    """Every `retries` count in a step's detail, however deep the connector put it."""
    if isinstance(detail, dict):
        own = detail.get("retries")
        return (own if isinstance(own, int) else 0) + sum(_retries(v) for k, v in detail.items() if k != "retries")
    if isinstance(detail, list):
        return sum(_retries(v) for v in detail)
    return 0


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
            phase.retries += _retries(s.detail)
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
HEALTH_DAYS = 30
FINISHED = ("SUCCESS", "PARTIAL", "FAILURE", "CANCELLED")


@dataclass
class Tick:
    at: float  # position on its axis, in SVG units
    label: str


@dataclass
class Chart:
    """The run timeline: a bar per run (height: duration, colour: status), a line of records
    received, labelled axes (duration left, records right, run start below, in the provider's
    zone), oldest run on the left."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[dict[str, Any]]
    line: str
    points: list[dict[str, Any]]
    y_ticks: list[Tick]
    r_ticks: list[Tick]
    x_ticks: list[Tick]
    statuses: list[str]
    max_seconds: float
    max_records: int
    zone: str


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above `value` (axis ends)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return float(step * power)
    return float(10 * power)  # pragma: no cover


def received(run: RunSummary) -> int:
    return sum(entity_counts(run.stats, e).received for e in ENTITIES)


def chart(
    runs: list[RunSummary], zone: str = "UTC", *, width: int = 720, height: int = 230, now: datetime | None = None
) -> Chart:
    """The last runs, oldest on the left; a run still going shows its time so far, hatched."""
    now = now or datetime.now(UTC)
    shown = list(reversed(runs[:CHART_RUNS]))
    left, right, top, bottom = 88, 70, 14, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    # at least a dozen slots: one run is one bar of readable width, not the whole plot
    slot = plot_w / max(len(shown), 12)
    start = left + plot_w - slot * len(shown)
    seconds = []
    for run in shown:
        if run.duration_seconds is not None:
            seconds.append(run.duration_seconds)
        elif run.started_at is not None and run.status.value not in FINISHED:
            seconds.append(max((now - run.started_at).total_seconds(), 0.0))
        else:
            seconds.append(0.0)
    records = [received(r) for r in shown]
    finished_records = [n for r, n in zip(shown, records, strict=True) if r.status.value in FINISHED]
    top_seconds = nice_ceiling(max(seconds, default=0.0))
    top_records = int(nice_ceiling(max(finished_records, default=0)))
    bars, points = [], []
    for i, run in enumerate(shown):
        x = start + i * slot
        bar_h = plot_h * seconds[i] / top_seconds
        status = run.status.value
        going = status not in FINISHED and status in ("PENDING", "IN_PROGRESS")
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(top + plot_h - max(bar_h, 1.0), 1),
                "w": round(slot * 0.7, 1),
                "h": round(max(bar_h, 1.0), 1),
                "status": status,
                "going": going,
                "label": f"{local_time(run.requested_at, zone).strftime('%a %Y-%m-%d %H:%M %Z')}: "
                f"{status_word(status)}, {duration(seconds[i]) if seconds[i] else '—'}"
                f"{' so far' if going else ''}, {records[i]:,} records received",
            }
        )
        if status in FINISHED:
            y = top + plot_h - plot_h * records[i] / top_records
            points.append({"x": round(x + slot / 2, 1), "y": round(y, 1)})
    y_ticks = [Tick(round(top + plot_h * (1 - f), 1), duration(top_seconds * f) if f else "0") for f in (0, 0.5, 1)]
    # a half-way tick only where it is a whole number of records of its own
    fractions = (0, 0.5, 1) if top_records >= 2 else (0, 1)
    r_ticks = [Tick(round(top + plot_h * (1 - f), 1), f"{round(top_records * f):,}") for f in fractions]
    every = max(1, math.ceil(len(shown) / 5))
    x_ticks = [
        Tick(round(start + i * slot + slot / 2, 1), local_time(run.requested_at, zone).strftime("%b %-d %H:%M"))
        for i, run in enumerate(shown)
        if (len(shown) - 1 - i) % every == 0
    ]
    known = list(STATUS_WORDS)
    seen: set[str] = {str(b["status"]) for b in bars}
    statuses = sorted(seen, key=lambda v: (known.index(v) if v in known else len(known), v))
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        bars=bars,
        line=" ".join(f"{p['x']},{p['y']}" for p in points),
        points=points,
        y_ticks=y_ticks,
        r_ticks=r_ticks,
        x_ticks=x_ticks,
        statuses=statuses,
        max_seconds=max(seconds, default=0.0),
        max_records=max(finished_records, default=0),
        zone=local_time(now, zone).strftime("%Z") if zone else "UTC",
    )


@dataclass
class Health:
    """How the provider fared over the last 30 days: finished runs, successes, the median time."""

    finished: int
    succeeded: int
    median_seconds: float | None
    words: str
    state: str  # good, mixed, bad, none

    @property
    def rate(self) -> int | None:
        return round(100 * self.succeeded / self.finished) if self.finished else None


def health(runs: list[RunSummary], now: datetime | None = None) -> Health:
    now = now or datetime.now(UTC)
    recent = [
        r for r in runs if r.status.value in FINISHED and (now - r.requested_at).total_seconds() <= HEALTH_DAYS * 86_400
    ]
    done = sum(r.status.value == "SUCCESS" for r in recent)
    durations = sorted(r.duration_seconds for r in recent if r.duration_seconds is not None)
    median = durations[len(durations) // 2] if durations else None
    if not recent:
        return Health(0, 0, None, f"No finished run in the last {HEALTH_DAYS} days", "none")
    rate = round(100 * done / len(recent))
    words = f"{rate}% of runs succeeded ({done} of {len(recent)} in {HEALTH_DAYS} days)"
    return Health(len(recent), done, median, words, "good" if rate >= 90 else "mixed" if rate >= 50 else "bad")


# a provider's state at a glance, worst first: the order of the fleet page
STATES = {
    "failing": ("Failing", "The last run failed."),
    "stale": ("Stale", "No successful sync within its alert time."),
    "held": ("Held", "The last run is held for review."),
    "paused": ("Paused", "Disabled: it runs only when someone runs it."),
    "partial": ("Partial", "The last run rejected some records; the rest was synced."),
    "waiting": ("Waiting", "A sync waits to start."),
    "running": ("Running", "A sync is in progress."),
    "new": ("Not run yet", "No run has finished yet."),
    "healthy": ("Healthy", "The last run succeeded."),
}


def provider_state(enabled: bool, stale_since: datetime | None, last_status: str | None, active: str | None) -> str:
    """One word for how a provider is doing (`active`: the status of a run pending or in progress);
    a status this UI does not know counts as a finished run."""
    if last_status == "FAILURE":
        return "failing"
    if stale_since is not None:
        return "stale"
    if last_status == "HELD":
        return "held"
    if not enabled:
        return "paused"
    if active == "PENDING":
        return "waiting"
    if active:
        return "running"
    if last_status is None:
        return "new"
    if last_status == "PARTIAL":
        return "partial"
    return "healthy"


def state_words(state: str) -> tuple[str, str]:
    return STATES.get(state, (humanize(state), ""))
