"""A run end to end through every phase, in-process, against real Postgres."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, text

from libs.enums import LOAD_ORDER, SyncStatus
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import run_row, store_counts, store_versions

MakeProvider = Callable[..., tuple[object, Dataset]]


def test_first_sync_creates_the_whole_district(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    district = SmallDistrict()
    provider_id, _ = make_provider(district.records())

    run_id = driver.sync(provider_id)

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    counts = store_counts(db, "district-1")
    assert {table: active for table, (active, _) in counts.items()} == district.counts()
    for plural, n in district.counts().items():
        assert run["stats"][plural]["created"] == n
        assert run["stats"][plural]["errors"] == 0
    assert run["stats"]["rowsWritten"] > 0
    # each step row counts each record once: read, received, applied (a record's link and store
    # rows are one record), and planning reads none
    total = sum(district.counts().values())
    with db.connect() as conn:
        records = dict(
            conn.execute(text("SELECT step, records FROM sis_sync_run_steps WHERE run_id = :r"), {"r": run_id}).all()
        )
    assert records.pop("plan") == 0
    assert sum(n for step, n in records.items() if step.startswith("extract:")) == total
    assert records["stage"] == total
    loads = {step: n for step, n in records.items() if step.startswith("load:")}
    assert loads == {f"load:{e.value}": district.counts()[e.plural] for e in LOAD_ORDER}
    timings = run["timings"]
    assert set(timings) >= {"extract", "stage", "load", "deactivate", "total"}
    assert all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in timings.values()), timings
    # the phases run one after another inside the run, so together they fit in its wall time
    # (each is rounded to the millisecond)
    wall = (run["completed_at"] - run["started_at"]).total_seconds()
    phases = sum(v for k, v in timings.items() if k != "total")
    assert phases <= wall + 0.0005 * len(timings), (phases, wall, timings)


def test_references_resolve_to_roster_ids(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, _ = make_provider(SmallDistrict().records())
    driver.sync(provider_id)
    with db.connect() as conn:
        orphans = conn.execute(
            text(
                """
                SELECT count(*) FROM enrollments e
                 WHERE NOT EXISTS (SELECT 1 FROM classes c WHERE c.id = e.class_id)
                    OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)
                """
            )
        ).scalar_one()
        class_terms = conn.execute(text("SELECT term_ids FROM classes")).scalars().all()
        fall = conn.execute(text("SELECT id, parent_id FROM terms WHERE name = 'Fall'")).one()
        year = conn.execute(text("SELECT id FROM terms WHERE name = '2026-27'")).scalar_one()
        schools = conn.execute(text("SELECT count(*) FROM users WHERE primary_school_id IS NULL")).scalar_one()
    assert orphans == 0
    assert all(terms == [fall.id] for terms in class_terms)
    assert fall.parent_id == year
    assert schools == 0


def test_second_sync_of_unchanged_district_writes_nothing(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    district = SmallDistrict()
    provider_id, _ = make_provider(district.records())
    driver.sync(provider_id)
    before = store_versions(db)

    run_id = driver.sync(provider_id)

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.SUCCESS
    assert store_versions(db) == before
    assert run["stats"]["rowsWritten"] == 0
    for plural, n in district.counts().items():
        assert run["stats"][plural]["unchanged"] == n
        assert run["stats"][plural]["created"] == run["stats"][plural]["updated"] == 0


def test_changes_update_deactivate_and_reactivate(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    district = SmallDistrict()
    provider_id, dataset = make_provider(district.records())
    driver.sync(provider_id)
    users = dataset.items[district.users[0].entity_type]
    leaving = users.pop()  # the last student leaves, with their enrollments
    enrollments = dataset.items[district.enrollments[0].entity_type]
    dataset.items[district.enrollments[0].entity_type] = [
        e
        for e in enrollments
        if e.user_external_id != leaving.external_id  # type: ignore[attr-defined]
    ]
    users[3] = replace(users[3], family_name="Renamed")

    changed = run_row(db, driver.sync(provider_id))

    assert changed["status"] == SyncStatus.SUCCESS, changed["error_message"]
    assert changed["stats"]["users"]["updated"] == 1
    assert changed["stats"]["users"]["deactivated"] == 1
    assert changed["stats"]["enrollments"]["deactivated"] == 2
    with db.connect() as conn:
        gone = conn.execute(
            text("SELECT active, deactivated_at FROM users WHERE student_number = :n"),
            {"n": leaving.student_number},  # type: ignore[attr-defined]
        ).one()
    assert gone.active is False
    assert gone.deactivated_at is not None

    users.append(leaving)
    dataset.items[district.enrollments[0].entity_type] = enrollments
    back = run_row(db, driver.sync(provider_id))

    assert back["stats"]["users"]["reactivated"] == 1
    assert back["stats"]["enrollments"]["reactivated"] == 2
    assert back["stats"]["users"]["created"] == 0
    counts = store_counts(db, "district-1")
    assert counts["users"] == (len(district.users), 0)
    assert counts["enrollments"] == (len(district.enrollments), 0)


def _rows_written_between(before: dict[str, set[tuple[str, str]]], after: dict[str, set[tuple[str, str]]]) -> int:
    """Store and link rows that are new or have a new version (xmin) since `before`."""
    return sum(len(after[table] - before[table]) for table in after)


def test_rows_written_counts_deactivations_and_reactivations(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    district = SmallDistrict()
    provider_id, dataset = make_provider(district.records())
    driver.sync(provider_id)
    users = dataset.items[district.users[0].entity_type]
    enrollment_type = district.enrollments[0].entity_type
    enrollments = dataset.items[enrollment_type]
    leaving = users.pop()
    dataset.items[enrollment_type] = [
        e
        for e in enrollments
        if e.user_external_id != leaving.external_id  # type: ignore[attr-defined]
    ]

    # a run whose only change is a student leaving: it writes their links and rows, nothing more
    before = store_versions(db)
    gone = run_row(db, driver.sync(provider_id))
    written = _rows_written_between(before, store_versions(db))

    assert gone["status"] == SyncStatus.SUCCESS, gone["error_message"]
    assert gone["stats"]["users"]["deactivated"] == 1
    assert gone["stats"]["enrollments"]["deactivated"] == 2
    assert sum(gone["stats"][plural]["created"] + gone["stats"][plural]["updated"] for plural in district.counts()) == 0
    # one link and one store row for the student and for each of their two enrollments
    assert written == 6
    assert gone["stats"]["rowsWritten"] == written

    # the student's return writes the same rows back, through the load
    users.append(leaving)
    dataset.items[enrollment_type] = enrollments
    before = store_versions(db)
    back = run_row(db, driver.sync(provider_id))
    assert back["stats"]["users"]["reactivated"] == 1
    assert back["stats"]["rowsWritten"] == _rows_written_between(before, store_versions(db)) == 6

    # and a run with nothing to do still reports nothing written
    calm = run_row(db, driver.sync(provider_id))
    assert calm["stats"]["rowsWritten"] == 0
