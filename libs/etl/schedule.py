"""Sync schedules: presets, cron validation, and the next fire time in a provider's own zone.

Cron expressions are evaluated with croniter on tz-aware datetimes in the provider's IANA
zone, so "0 2 * * *" means 02:00 local all year. Two DST effects are handled here:

* fall-back: a daily "30 1 * * *" would fire at 01:30 EDT and again at 01:30 EST. Every fire
  is identified by its local wall-clock slot ("2026-11-01T01:30"); a computed fire whose slot
  equals the previous one is skipped, and the runs table has a unique (provider, slot) index
  as the backstop across scheduler replicas.
* spring-forward: a slot that does not exist locally (02:30 on the spring-forward day) is
  shifted by croniter to the first valid time; it still fires once that day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter

from libs.enums import SyncMode
from libs.etl.options import ProviderOptions


@dataclass(frozen=True)
class Preset:
    name: str
    cron: str
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("daily", "0 2 * * *", "Every day at 2 AM"),
        Preset("twice-daily", "0 2,14 * * *", "2 AM and 2 PM"),
        Preset("every-6-hours", "0 */6 * * *", "Every 6 hours"),
        Preset("weekdays", "0 6 * * 1-5", "Weekdays at 6 AM"),
        Preset("hourly", "0 * * * *", "Every hour"),
        Preset("weekly", "0 0 * * 0", "Sunday at midnight"),
    )
}

SLOT_FORMAT = "%Y-%m-%dT%H:%M"
# a schedule must fire within this many years of being set (`0 0 31 2 *` never does)
MAX_YEARS_BETWEEN_FIRES = 5


def _cron_field(number: str) -> str:
    item = rf"(?:\*|{number}(?:-{number})?)(?:/[1-9][0-9]?)?"
    return rf"{item}(?:,{item})*"


# what a schedule may be: a preset name, or five numeric cron fields (minute hour day month
# weekday) of `*`, numbers, ranges, steps and lists; the API's schema states the same pattern
_FIELDS = (r"[0-5]?[0-9]", r"(?:[01]?[0-9]|2[0-3])", r"(?:0?[1-9]|[12][0-9]|3[01])", r"(?:0?[1-9]|1[0-2])", r"[0-7]")
CRON_PATTERN = " +".join(_cron_field(n) for n in _FIELDS)
SCHEDULE_PATTERN = "^ *(?:" + "|".join(PRESETS) + "|" + CRON_PATTERN + ") *$"
SCHEDULE_RE = re.compile(SCHEDULE_PATTERN)
SCHEDULE_HINT = (
    "expected a five-field numeric cron expression (minute hour day month weekday, e.g. '30 2 * * 1-5') "
    f"or one of: {', '.join(PRESETS)}"
)
# a schedule that cannot find its next fire within this many candidates is broken
_MAX_CANDIDATES = 1000


class ScheduleError(ValueError):
    """A cron expression, preset name or time zone that cannot be used."""


@dataclass(frozen=True)
class Schedule:
    cron: str
    preset: str | None


@dataclass(frozen=True)
class Fire:
    at: datetime  # UTC
    slot: str  # local wall-clock minute, the run's schedule_slot


def resolve(value: str) -> Schedule:
    """A preset name or a five-field cron expression -> the cron to store (and the preset name)."""
    if SCHEDULE_RE.fullmatch(value) is None:
        problem = cron_field_problem(value)
        raise ScheduleError(f"{problem}; {SCHEDULE_HINT}" if problem else SCHEDULE_HINT)
    text = " ".join(value.split())
    preset = PRESETS.get(text)
    if preset is not None:
        return Schedule(cron=preset.cron, preset=preset.name)
    if not croniter.is_valid(text):
        problem = cron_field_problem(text)
        raise ScheduleError(f"not a valid cron expression: {text!r}" + (f" ({problem})" if problem else ""))
    try:
        croniter(text, utcnow(), max_years_between_matches=MAX_YEARS_BETWEEN_FIRES).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(
            f"cron expression {text!r} never fires: no time matches it within {MAX_YEARS_BETWEEN_FIRES} years"
        ) from None
    return Schedule(cron=text, preset=None)


# the five fields of a cron expression, in order, with the values each takes
CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12"),
    ("day of week", "0-7, 0 and 7 are Sunday"),
)


def cron_field_problem(text: str) -> str:
    """ "the hour field '25' is not valid (0-23)": the first field that is wrong on its own, so an
    admin knows what to fix; empty for a preset-like word or when no single field is to blame."""
    parts = text.split()
    if len(parts) < 2:
        return ""
    if len(parts) != len(CRON_FIELDS):
        return f"a cron expression has 5 fields, this one has {len(parts)}"
    for (name, values), number, part in zip(CRON_FIELDS, _FIELDS, parts, strict=True):
        if re.fullmatch(_cron_field(number), part) is None:
            return f"the {name} field {part!r} is not valid ({values})"
    return ""


def preset_of(cron: str | None) -> str | None:
    if cron is None:
        return None
    return next((p.name for p in PRESETS.values() if p.cron == cron), None)


def zone(name: str) -> ZoneInfo:
    # ZoneInfo accepts some non-IANA keys ("localtime", paths); only real zone names are allowed
    if name not in zone_names():
        raise ScheduleError(f"unknown IANA time zone: {name!r} (e.g. America/New_York, Europe/Berlin, UTC)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown IANA time zone: {name!r}") from None


_ZONES: frozenset[str] | None = None


def zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        # the system zone database may list links that are not zones of the IANA database
        _ZONES = (frozenset(available_timezones()) | {"UTC"}) - {"localtime", "posixrules", "Factory"}
    return _ZONES


def slot_of(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime(SLOT_FORMAT)


def fires(cron: str, tz: ZoneInfo, after: datetime) -> Iterator[Fire]:
    """Fires strictly after `after`, one per local wall-clock slot (the fall-back repeat is dropped)."""
    it = croniter(cron, after.astimezone(tz), max_years_between_matches=MAX_YEARS_BETWEEN_FIRES)
    previous = slot_of(after, tz)
    skipped = 0
    while True:
        try:
            candidate: datetime = it.get_next(datetime)
        except CroniterBadDateError:
            raise ScheduleError(f"cron expression {cron!r} never fires") from None
        slot = slot_of(candidate, tz)
        if slot <= previous:
            skipped += 1
            if skipped > _MAX_CANDIDATES:
                raise ScheduleError(f"cron expression {cron!r} never fires")
            continue
        skipped = 0
        previous = slot
        yield Fire(at=candidate.astimezone(UTC), slot=slot)


def next_fire(cron: str, tz: ZoneInfo, after: datetime) -> Fire:
    return next(fires(cron, tz, after))


def preview(cron: str, tz: ZoneInfo, after: datetime, count: int) -> list[Fire]:
    result: list[Fire] = []
    for fire in fires(cron, tz, after):
        result.append(fire)
        if len(result) >= count:
            break
    return result


@dataclass(frozen=True)
class CatchUp:
    """What to do with a schedule whose next_run_at has passed."""

    slot: str  # the most recent elapsed slot: the one catch-up run fires for
    missed: int  # elapsed slots beyond that one, coalesced into it
    next: Fire  # the first slot after now


def catch_up(cron: str, tz: ZoneInfo, due: datetime, now: datetime) -> CatchUp:
    """Coalesce every slot in [due, now] into one run, and find the next slot after now.

    A roster sync converges to the source's state, so replaying missed slots is pointless.
    """
    latest = slot_of(due, tz)
    # start just before `due` so that `due` itself counts as the first slot
    for elapsed, fire in enumerate(fires(cron, tz, due - timedelta(seconds=1))):
        if fire.at > now:
            # a `due` that is no slot of this cron (the schedule changed) still fires once
            return CatchUp(slot=latest, missed=max(elapsed - 1, 0), next=fire)
        latest = fire.slot
    raise AssertionError("unreachable: fires() never ends")  # pragma: no cover


def utcnow() -> datetime:
    return datetime.now(UTC)


def first_run_at(cron: str | None, timezone: str, *, enabled: bool, now: datetime) -> datetime | None:
    """`next_run_at` for a provider whose schedule was just set, changed or enabled.

    Counted from now, so enabling a provider never fires a burst for slots that passed while
    it was off.
    """
    if cron is None or not enabled:
        return None
    return next_fire(cron, zone(timezone), now).at


def choose_mode(options: ProviderOptions, last_full_sync_at: datetime | None, now: datetime) -> SyncMode:
    """Incremental when the provider asks for it and its last full sync is recent enough."""
    if not options.incremental or last_full_sync_at is None:
        return SyncMode.FULL
    if now - last_full_sync_at >= timedelta(days=options.full_sync_every_days):
        return SyncMode.FULL
    return SyncMode.INCREMENTAL


__all__ = [
    "PRESETS",
    "SCHEDULE_HINT",
    "SCHEDULE_PATTERN",
    "CatchUp",
    "Fire",
    "Preset",
    "Schedule",
    "ScheduleError",
    "catch_up",
    "choose_mode",
    "fires",
    "first_run_at",
    "next_fire",
    "preset_of",
    "preview",
    "resolve",
    "slot_of",
    "zone",
]
