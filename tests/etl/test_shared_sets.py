"""Every real OneRoster set in ../shared/data/oneroster synced through the engine.

Each set either syncs with store counts equal to its rows, or ends PARTIAL with exactly the
per-row errors its defects deserve (file, line, field, code and a message that names the
cause), while every valid row is still applied.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from libs.enums import ProviderType, SyncStatus
from libs.etl.context import EtlContext
from tests.etl.conftest import Driver
from tests.support.providers import create_provider, run_row, store_counts

MOODLE = "moodle-enrol_oneroster"
DEPARTMENT_CLASS = (
    "class",
    "classes.csv",
    "schoolSourcedId",
    "not_a_school",
    "schoolSourcedId 'org-sch-222-456' is a department org in orgs.csv, not a school",
)
DANGLING_PARENT = (
    None,
    "orgs.csv",
    "parentSourcedId",
    "orphan_reference",
    "parentSourcedId 'org-sch-222-3456' of org 'org-sch-222-456' refers to no org in orgs.csv",
)


def _enrollments_of(class_id: str, why: str, lines: range) -> list[tuple[Any, ...]]:
    message = f"class_external_id '{class_id}' refers to a class {why}"
    return [("enrollment", "enrollments.csv", line, "class_external_id", "orphan_reference", message) for line in lines]


def _sync(ctx: EtlContext, driver: Driver, db: Engine, package: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    provider_id = create_provider(
        db, ctx.settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(package)}
    )
    run_id: uuid.UUID = driver.sync(provider_id)
    with db.connect() as conn:
        errors = [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT entity_type, source, line, field, code, message FROM sis_sync_errors "
                    "WHERE run_id = :r ORDER BY source, line, id"
                ),
                {"r": run_id},
            )
        ]
    return run_row(db, run_id), errors


def _active(db: Engine) -> dict[str, int]:
    return {table: active for table, (active, _) in store_counts(db, "district-1").items()}


def test_lms_toolkit_syncs_every_row(ctx: EtlContext, driver: Driver, db: Engine, shared_data: Path) -> None:
    run, errors = _sync(ctx, driver, db, shared_data / "oneroster" / "LMS-Toolkit")

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert errors == []
    assert _active(db) == {"schools": 1, "terms": 3, "classes": 2, "users": 10, "enrollments": 24}


def test_header_only_templates_sync_to_an_empty_roster(
    ctx: EtlContext, driver: Driver, db: Engine, shared_data: Path
) -> None:
    run, errors = _sync(ctx, driver, db, shared_data / "oneroster" / "oneroster-mocker")

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert errors == []
    assert set(_active(db).values()) == {0}


def test_oneroster_1_2_delta_set_applies_its_rows(
    ctx: EtlContext, driver: Driver, db: Engine, shared_data: Path
) -> None:
    run, errors = _sync(ctx, driver, db, shared_data / "oneroster" / MOODLE / "oneroster_test_data")

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert errors == []
    assert _active(db) == {"schools": 1, "terms": 1, "classes": 1, "users": 1, "enrollments": 1}
    with db.connect() as conn:
        user = conn.execute(text("SELECT role, student_number FROM users")).one()
    assert tuple(user) == ("student", "bruce.wayne")


@pytest.mark.parametrize("name", ["Test_full_data_set", "v1p2_full_dataset"])
def test_moodle_full_sets_report_the_department_school_the_dangling_parent_and_the_deleted_class(
    ctx: EtlContext, driver: Driver, db: Engine, shared_data: Path, name: str
) -> None:
    run, errors = _sync(ctx, driver, db, shared_data / "oneroster" / MOODLE / name)

    assert run["status"] == SyncStatus.PARTIAL
    assert run["error_message"] == "8 record(s) rejected; see the run's errors"
    # the only org is a department whose parent is not in orgs.csv; its one active class sits at
    # that department, and the other class is tobedeleted while enrollments still name it
    (entity, source, field, code, message) = DANGLING_PARENT
    assert errors == [
        (*DEPARTMENT_CLASS[:2], 2, *DEPARTMENT_CLASS[2:]),
        *_enrollments_of("cls-222-123456", "that was rejected (see that row's error)", range(2, 5)),
        *_enrollments_of("cls-222-123478", "this feed deletes", range(5, 8)),
        (entity, source, 2, field, code, message),
    ]
    # what is valid is applied all the same
    users = 6 if name == "v1p2_full_dataset" else 5
    assert _active(db) == {"schools": 0, "terms": 3, "classes": 0, "users": users, "enrollments": 0}
    assert run["stats"]["classes"]["errors"] == 1
    assert run["stats"]["enrollments"]["errors"] == 6


def test_moodle_minimal_set_reports_both_classes_at_a_department(
    ctx: EtlContext, driver: Driver, db: Engine, shared_data: Path
) -> None:
    run, errors = _sync(ctx, driver, db, shared_data / "oneroster" / MOODLE / "Test_minimal_data_set")

    assert run["status"] == SyncStatus.PARTIAL
    # no parent on its department: nothing dangles
    assert errors == [
        (*DEPARTMENT_CLASS[:2], 2, *DEPARTMENT_CLASS[2:]),
        (*DEPARTMENT_CLASS[:2], 3, *DEPARTMENT_CLASS[2:]),
        *_enrollments_of("cls-222-123456", "that was rejected (see that row's error)", range(2, 5)),
        *_enrollments_of("cls-222-123478", "that was rejected (see that row's error)", range(5, 8)),
    ]
    assert _active(db) == {"schools": 0, "terms": 5, "classes": 0, "users": 5, "enrollments": 0}
