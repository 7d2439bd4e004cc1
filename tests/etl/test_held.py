"""Held runs in the engine: an incomplete extract holds and, approved, still deactivates nothing
of its type; a held run frees its slot; approve is idempotent. (End to end: tests/e2e/test_held.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Engine, text

from libs.enums import EntityType, SyncStatus
from libs.etl import held
from libs.etl.context import EtlContext
from libs.etl.phase import start_sync
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request, run_row, store_counts, store_versions

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


def _approve(driver: Driver, run_id: uuid.UUID) -> dict[str, object]:
    with driver.ctx.engine.begin() as conn:
        assert held.approve(conn, run_id, by="admin@district").changed
    driver.drain([start_sync(run_id)])
    return run_row(driver.ctx.engine, run_id)


def test_an_incomplete_extract_holds_and_approved_still_deactivates_nothing_of_that_type(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    district = SmallDistrict(students=60)
    provider_id, dataset = make_provider(district.records())
    assert run_row(db, driver.sync(provider_id))["status"] == SyncStatus.SUCCESS
    dataset.items[EntityType.ENROLLMENT] = dataset.items[EntityType.ENROLLMENT][:30]
    dataset.incomplete[EntityType.ENROLLMENT] = "enrollments.csv ends in the middle of a row (line 32)"
    dataset.items[EntityType.USER] = dataset.items[EntityType.USER][:-1]
    before = store_versions(db)

    run_id = driver.sync(provider_id)
    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.HELD
    assert "enrollments: extract incomplete" in run["error_message"]
    assert run["stats"]["plan"]["enrollments"]["deactivate"] == 0
    assert run["stats"]["plan"]["users"]["deactivate"] == 1
    assert store_versions(db) == before

    done = _approve(driver, run_id)
    assert done["status"] == SyncStatus.PARTIAL
    assert "enrollments: extract incomplete" in str(done["error_message"])
    assert store_counts(db, "district-1")["enrollments"] == (len(district.enrollments), 0)
    assert done["stats"]["users"]["deactivated"] == 1  # type: ignore[index]
    # approving again answers with the run, starts nothing
    with db.begin() as conn:
        again = held.approve(conn, run_id, by="admin@district")
    assert (again.changed, again.status) == (False, SyncStatus.PARTIAL)


def test_a_held_run_takes_no_slot(ctx: EtlContext, make_provider: MakeProvider, db: Engine) -> None:
    one_slot = Driver(
        EtlContext(
            settings=ctx.settings.model_copy(update={"max_concurrent_syncs": 1, "max_concurrent_syncs_per_tenant": 1}),
            engine=ctx.engine,
            cipher=ctx.cipher,
            redis=None,
        )
    )
    district = SmallDistrict(students=10)
    first, _ = make_provider(district.records(), options={"requireApproval": "always"})
    second, _ = make_provider(district.records(), tenant_id="district-1")

    held_run = one_slot.sync(first)
    assert run_row(db, held_run)["status"] == SyncStatus.HELD
    other = request(db, second)
    one_slot.drain([start_sync(other.run_id)])
    assert run_row(db, other.run_id)["status"] == SyncStatus.SUCCESS
    with db.connect() as conn:
        in_progress = conn.execute(text("SELECT count(*) FROM sis_sync_runs WHERE status = 'IN_PROGRESS'")).scalar()
    assert in_progress == 0
