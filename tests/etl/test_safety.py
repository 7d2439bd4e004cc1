"""No broken feed may wipe a district: guards hold deactivations back and say why.

These providers say `requireApproval: never` (apply what is safe, end PARTIAL); the default,
where a tripped guard holds the whole run for review, is tested in tests/e2e/test_held.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, text

from libs.connectors import records as r
from libs.connectors.base import FeedMode
from libs.connectors.errors import PackageError, ProviderUnavailable
from libs.enums import EntityType, SyncStatus
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import run_row, store_counts

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]

# large enough for the percentage guard to apply (it ignores tiny link counts)
STUDENTS = 60


def _synced(driver: Driver, make_provider: MakeProvider) -> tuple[uuid.UUID, Dataset, SmallDistrict]:
    district = SmallDistrict(students=STUDENTS)
    provider_id, dataset = make_provider(district.records(), options={"requireApproval": "never"})
    assert run_row(driver.ctx.engine, driver.sync(provider_id))["status"] == SyncStatus.SUCCESS
    return provider_id, dataset, district


def _enrollments_active(db: Engine) -> int:
    return store_counts(db, "district-1")["enrollments"][0]


def test_an_empty_enrollments_feed_deactivates_nothing(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    dataset.items[EntityType.ENROLLMENT] = []

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    assert _enrollments_active(db) == len(district.enrollments)
    assert "enrollments: the feed has no rows while 124 are active" in run["error_message"]
    assert run["stats"]["enrollments"]["deactivated"] == 0


def test_a_truncated_feed_deactivates_nothing(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    dataset.items[EntityType.ENROLLMENT] = dataset.items[EntityType.ENROLLMENT][:30]
    dataset.incomplete[EntityType.ENROLLMENT] = "enrollments.csv ends in the middle of a row (line 32)"

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    assert _enrollments_active(db) == len(district.enrollments)
    assert "enrollments: extract incomplete (enrollments.csv ends in the middle of a row" in run["error_message"]


def test_a_fifty_percent_drop_is_held_back_above_the_threshold(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    enrollments = dataset.items[EntityType.ENROLLMENT]
    dataset.items[EntityType.ENROLLMENT] = enrollments[: len(enrollments) // 2]

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    assert _enrollments_active(db) == len(district.enrollments)
    assert "enrollments: 62 of 124 active (50%) would be deactivated, above the 20% threshold" in run["error_message"]
    assert run["stats"]["rowsWritten"] == 0  # what the guard rolled back was not written

    # an admin who knows it is real (a rollover) lets the same run shape apply it
    applied = run_row(db, driver.sync(provider_id, options={"allowMassDeactivation": True}))
    assert applied["status"] == SyncStatus.SUCCESS
    assert _enrollments_active(db) == len(district.enrollments) - 62
    assert applied["stats"]["rowsWritten"] == 2 * 62  # each enrollment's link and its row


def test_a_drop_below_the_threshold_applies(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, dataset, _ = _synced(driver, make_provider)
    dataset.items[EntityType.ENROLLMENT] = dataset.items[EntityType.ENROLLMENT][:-10]

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.SUCCESS
    assert run["stats"]["enrollments"]["deactivated"] == 10


def test_a_source_that_keeps_failing_mid_extract_applies_what_it_read_and_deactivates_nothing(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    users = dataset.items[EntityType.USER]
    users[0] = replace(users[0], given_name="Renamed")
    dataset.fail = (EntityType.USER, 10, ProviderUnavailable("the SIS answered HTTP 503 10 times in a row"))

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    assert run["stats"]["users"]["updated"] == 1
    assert run["stats"]["users"]["deactivated"] == 0
    assert store_counts(db, "district-1")["users"] == (len(district.users), 0)
    assert "HTTP 503" in run["error_message"]


def test_a_broken_package_fails_the_run_and_changes_nothing(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    dataset.fail = (EntityType.SCHOOL, 0, PackageError("users.csv: required column 'sourcedId' is missing"))

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.FAILURE
    assert run["error_message"] == "users.csv: required column 'sourcedId' is missing"
    assert {t: a for t, (a, _) in store_counts(db, "district-1").items()} == district.counts()
    # the provider is free for the next run
    assert run_row(db, driver.sync(provider_id))["status"] == SyncStatus.FAILURE


def test_an_absent_feed_leaves_its_entity_untouched(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    dataset.items[EntityType.ENROLLMENT] = []
    dataset.modes[EntityType.ENROLLMENT] = FeedMode.ABSENT

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.SUCCESS
    assert _enrollments_active(db) == len(district.enrollments)


def test_a_delta_applies_its_rows_and_deactivates_only_tombstones(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    dataset.items = {
        EntityType.USER: [
            r.User(
                external_id="stu-new",
                role="student",
                given_name="New",
                family_name="Kid",
                school_external_ids=("sch-0",),
                primary_school_external_id="sch-0",
            ),
            r.User(external_id="stu-3", tombstone=True),
        ],
        EntityType.ENROLLMENT: [
            r.Enrollment(external_id="enr-new", class_external_id="cls-0", user_external_id="stu-new", role="student"),
        ],
    }
    dataset.modes = {entity: FeedMode.DELTA for entity in EntityType}

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert run["stats"]["users"]["created"] == 1
    assert run["stats"]["users"]["deactivated"] == 1
    assert run["stats"]["enrollments"]["created"] == 1
    assert run["stats"]["schools"]["deactivated"] == 0
    counts = store_counts(db, "district-1")
    assert counts["users"] == (len(district.users), 1)
    assert counts["classes"] == (len(district.classes), 0)


def test_a_delta_that_lists_a_class_roster_completely_drops_who_is_missing(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset, _ = _synced(driver, make_provider)
    cls0 = [e for e in dataset.items[EntityType.ENROLLMENT] if e.class_external_id == "cls-0"]  # type: ignore[attr-defined]
    dataset.items = {EntityType.ENROLLMENT: cls0[:-3]}
    dataset.modes = {entity: FeedMode.DELTA for entity in EntityType}
    dataset.complete_classes = frozenset({"cls-0"})

    run = run_row(db, driver.sync(provider_id))

    assert run["stats"]["enrollments"]["deactivated"] == 3


def test_bad_rows_are_reported_with_file_and_line_and_stay_active(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset, district = _synced(driver, make_provider)
    users = dataset.items[EntityType.USER]
    users.append(r.User(external_id=users[5].external_id, role="student", source_ref="users.csv:99"))
    dataset.items[EntityType.ENROLLMENT].append(
        r.Enrollment(
            external_id="enr-orphan",
            class_external_id="cls-404",
            user_external_id="stu-1",
            role="student",
            source_ref="enrollments.csv:500",
        )
    )
    dataset.items[EntityType.CLASS].append(r.Class(external_id="cls-x", title="No school", source_ref="classes.csv:9"))
    users[7] = r.RecordError(
        entity_type=EntityType.USER,
        code="invalid_date",
        message="bad birthDate",
        external_id=users[7].external_id,
        source="users.csv",
        line=12,
        field="birthDate",
    )

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    with db.connect() as conn:
        errors = {
            (e.code, e.source, e.line, e.field)
            for e in conn.execute(text("SELECT * FROM sis_sync_errors WHERE run_id = :r"), {"r": run["id"]})
        }
    assert ("duplicate_id", "users.csv", 99, "id") in errors
    assert ("orphan_reference", "enrollments.csv", 500, "class_external_id") in errors
    assert ("missing_value", "classes.csv", 9, "school_external_id") in errors
    assert ("invalid_date", "users.csv", 12, "birthDate") in errors
    # each type's errors stat is its count of error rows: the run page and the API show it
    with db.connect() as conn:
        per_type = dict(
            conn.execute(
                text("SELECT entity_type, count(*) FROM sis_sync_errors WHERE run_id = :r GROUP BY 1"),
                {"r": run["id"]},
            ).all()
        )
    assert {plural: run["stats"][plural]["errors"] for plural in district.counts()} == {
        entity.plural: per_type.get(entity.value, 0) for entity in EntityType
    }
    # the duplicate and the unreadable user; the school-less class; the orphan enrollment and the
    # two enrollments of the unreadable user, whose reference no longer resolves
    assert (run["stats"]["users"]["errors"], run["stats"]["classes"]["errors"]) == (2, 1)
    assert run["stats"]["enrollments"]["errors"] == 3
    assert run["stats"]["schools"]["errors"] == run["stats"]["terms"]["errors"] == 0
    # the user whose row could not be read is not mistaken for one who left
    assert run["stats"]["users"]["deactivated"] == 0
    assert store_counts(db, "district-1")["users"] == (len(district.users), 0)
