"""Schedules: presets, validation, next fires in a provider's zone across DST, catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.enums import SyncMode
from libs.etl import schedule
from libs.etl.options import ProviderOptions

NY = schedule.zone("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_presets_resolve_to_the_spec_crons_and_crons_pass_through() -> None:
    assert schedule.resolve("weekdays") == schedule.Schedule("0 6 * * 1-5", "weekdays")
    assert schedule.resolve(" 15  3 * * * ") == schedule.Schedule("15 3 * * *", None)
    assert schedule.preset_of("0 */6 * * *") == "every-6-hours"


@pytest.mark.parametrize("bad", ["", "daily-ish", "* * * *", "0 0 * * * *", "60 * * * *", "0 25 * * *", "@daily"])
def test_invalid_schedules_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(schedule.ScheduleError):
        schedule.resolve(bad)


def test_unknown_zones_are_refused() -> None:
    for name in ("Mars/Base", "localtime", "../etc/passwd", ""):
        with pytest.raises(schedule.ScheduleError):
            schedule.zone(name)


def test_daily_schedule_on_the_fall_back_day_fires_once() -> None:
    fires = schedule.preview("30 1 * * *", NY, utc(2026, 10, 31, 12, 0), 3)
    assert [f.slot for f in fires] == ["2026-11-01T01:30", "2026-11-02T01:30", "2026-11-03T01:30"]
    assert fires[0].at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, the first of the two


def test_after_the_first_0130_the_repeated_0130_is_skipped() -> None:
    after_first = utc(2026, 11, 1, 5, 30)
    assert schedule.next_fire("30 1 * * *", NY, after_first).slot == "2026-11-02T01:30"


def test_spring_forward_missing_time_still_fires_that_day() -> None:
    fires = schedule.preview("30 2 * * *", NY, utc(2026, 3, 7, 12, 0), 2)
    assert [f.slot for f in fires] == ["2026-03-08T03:00", "2026-03-09T02:30"]


def test_schedule_runs_in_local_time_not_utc() -> None:
    assert schedule.next_fire("0 2 * * *", NY, utc(2026, 7, 1, 0, 0)).at == utc(2026, 7, 1, 6, 0)
    assert schedule.next_fire("0 2 * * *", NY, utc(2026, 12, 1, 0, 0)).at == utc(2026, 12, 1, 7, 0)


def test_three_hours_of_downtime_coalesce_into_one_catch_up() -> None:
    plan = schedule.catch_up("0 * * * *", schedule.zone("UTC"), utc(2026, 5, 1, 10), utc(2026, 5, 1, 13, 1))
    assert plan.slot == "2026-05-01T13:00"
    assert plan.missed == 3
    assert plan.next.at == utc(2026, 5, 1, 14)


def test_mode_is_incremental_only_while_the_last_full_sync_is_recent() -> None:
    now = utc(2026, 5, 10)
    on = ProviderOptions(incremental=True, fullSyncEveryDays=7)
    assert schedule.choose_mode(on, now - timedelta(days=1), now) is SyncMode.INCREMENTAL
    assert schedule.choose_mode(on, now - timedelta(days=8), now) is SyncMode.FULL
    assert schedule.choose_mode(on, None, now) is SyncMode.FULL
    assert schedule.choose_mode(ProviderOptions(), now, now) is SyncMode.FULL


@pytest.mark.parametrize(
    ("cron", "said"),
    [
        ("0 25 * * *", "the hour field '25' is not valid (0-23)"),
        ("61 1 * * *", "the minute field '61' is not valid (0-59)"),
        ("0 1 32 * *", "the day of month field '32' is not valid (1-31)"),
        ("0 1 * 13 *", "the month field '13' is not valid (1-12)"),
        ("0 1 * * 9", "the day of week field '9' is not valid (0-7, 0 and 7 are Sunday)"),
        ("0 1 * *", "a cron expression has 5 fields, this one has 4"),
    ],
)
def test_a_bad_cron_expression_names_the_field_to_fix(cron: str, said: str) -> None:
    with pytest.raises(schedule.ScheduleError) as info:
        schedule.resolve(cron)
    assert str(info.value).startswith(said)
    assert "five-field numeric cron expression" in str(info.value)
