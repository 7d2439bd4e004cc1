"""One run per provider, a global cap, cancel, duplicate deliveries, lost leases."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from libs.enums import EntityType, SyncStatus
from libs.etl import runs
from libs.etl.context import EtlContext
from libs.etl.phase import START_SYNC, Phase, cancel_sync, start_sync
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request, run_row, store_counts, store_versions

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


def test_a_second_request_for_a_busy_provider_gets_the_existing_run(make_provider: MakeProvider, db: Engine) -> None:
    provider_id, _ = make_provider(SmallDistrict().records())
    first = request(db, provider_id)
    second = request(db, provider_id)
    assert first.created
    assert not second.created
    assert second.run_id == first.run_id


def test_admission_never_exceeds_the_cap_and_admits_in_request_order(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    assert driver.ctx.settings.max_concurrent_syncs == 2
    # one tenant allowed both slots, so its runs overlap (the per-tenant cap is tested below)
    driver.ctx.settings = driver.ctx.settings.model_copy(update={"max_concurrent_syncs_per_tenant": 2})
    providers = [make_provider(SmallDistrict(students=2).records())[0] for _ in range(5)]
    requested = [request(db, p).run_id for p in providers]

    pending = driver.deliver(start_sync(requested[4]))

    assert [m.args[0] for m in pending] == [str(requested[0]), str(requested[1])]
    statuses = [run_row(db, r)["status"] for r in requested]
    assert statuses == [SyncStatus.IN_PROGRESS] * 2 + [SyncStatus.PENDING] * 3
    # each finishing run admits the next waiting one; all five finish, never more than two at once
    seen_running = []
    queue = list(pending)
    while queue:
        queue = queue[1:] + driver.deliver(queue[0])
        with db.connect() as conn:
            seen_running.append(
                conn.execute(text("SELECT count(*) FROM sis_sync_runs WHERE status = 'IN_PROGRESS'")).scalar_one()
            )
    assert max(seen_running) <= 2
    assert [run_row(db, r)["status"] for r in requested] == [SyncStatus.SUCCESS] * 5
    # the five providers share a tenant: runs that overlapped still made one user per person
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 5


def test_one_tenant_cannot_take_every_slot_and_waiting_tenants_take_turns(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    settings = driver.ctx.settings
    assert (settings.max_concurrent_syncs, settings.max_concurrent_syncs_per_tenant) == (2, 1)
    busy = [make_provider(SmallDistrict(students=2).records(), tenant_id="district-busy")[0] for _ in range(3)]
    quiet = make_provider(SmallDistrict(students=2).records(), tenant_id="district-quiet")[0]
    late = make_provider(SmallDistrict(students=2).records(), tenant_id="district-late")[0]
    # the busy tenant asks first, three times; the other two after it
    busy_runs = [request(db, p).run_id for p in busy]
    quiet_run = request(db, quiet).run_id
    late_run = request(db, late).run_id

    admitted = driver.deliver(start_sync(late_run))

    # one slot each for the busy tenant and the tenant that has waited longest after it
    assert [m.args[0] for m in admitted] == [str(busy_runs[0]), str(quiet_run)]
    # when the quiet tenant's run ends, its slot goes to the late tenant: the busy tenant's older
    # runs wait, since it already runs one
    queue = driver.drain(driver.deliver(admitted[1]), stop_before=Phase.PLAN.actor)
    assert [m.args[0] for m in queue] == [str(late_run)]
    with db.connect() as conn:
        running = conn.execute(
            text("SELECT tenant_id FROM sis_sync_runs WHERE status = 'IN_PROGRESS' ORDER BY tenant_id")
        ).scalars()
        assert list(running) == ["district-busy", "district-late"]
    driver.drain(queue + admitted[:1])
    assert {run_row(db, r)["status"] for r in [*busy_runs, quiet_run, late_run]} == {SyncStatus.SUCCESS}


def test_a_disabled_provider_run_fails_without_taking_a_slot(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, _ = make_provider(SmallDistrict(students=2).records(), enabled=False)
    run_id = driver.sync(provider_id)
    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.FAILURE
    assert run["error_message"] == "Provider disabled"


def test_cancel_of_a_pending_run_ends_it_at_once(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, _ = make_provider(SmallDistrict().records())
    run_id = request(db, provider_id).run_id
    with db.begin() as conn:
        result = runs.request_cancel(conn, run_id, requested_by="admin")
    assert result is not None
    assert not result.notify_workers
    assert driver.drain([start_sync(run_id)]) == []
    assert run_row(db, run_id)["status"] == SyncStatus.CANCELLED
    assert store_counts(db, "district-1")["users"] == (0, 0)


def test_cancel_of_a_running_sync_applies_nothing_after_the_cancel(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    district = SmallDistrict()
    provider_id, _ = make_provider(district.records())
    run_id = request(db, provider_id).run_id
    # run until the load of users is next: schools, terms and classes are applied
    rest = driver.drain([start_sync(run_id)], stop_before=Phase.LOAD.actor)
    while rest[0].args[2] != EntityType.USER.value:
        rest = driver.drain(driver.deliver(rest[0]), stop_before=Phase.LOAD.actor) + rest[1:]
    with db.begin() as conn:
        cancel = runs.request_cancel(conn, run_id, requested_by="admin")
    assert cancel is not None
    assert cancel.notify_workers

    driver.drain([cancel_sync(run_id), *rest])

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.CANCELLED
    # every step ends in a terminal state: what ran is done, what did not is cancelled
    states = _step_states(db, run_id)
    assert states == {
        **{step: "done" for step in states if not step.startswith(("load:", "deactivate", "finalize"))},
        **{f"load:{e.value}": "done" for e in (EntityType.SCHOOL, EntityType.TERM, EntityType.CLASS)},
        **{f"load:{e.value}": "cancelled" for e in (EntityType.USER, EntityType.ENROLLMENT)},
        "deactivate": "cancelled",
        "finalize": "cancelled",
    }
    counts = store_counts(db, "district-1")
    assert counts["classes"][0] == len(district.classes)
    assert counts["users"] == (0, 0)
    assert counts["enrollments"] == (0, 0)


def test_cancel_noticed_by_a_running_phase_rolls_it_back(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, dataset = make_provider(SmallDistrict().records())
    run_id = request(db, provider_id).run_id

    def cancel_midway(entity: EntityType, index: int) -> None:
        if entity is EntityType.USER and index == 5:
            with db.begin() as conn:
                runs.request_cancel(conn, run_id, requested_by="admin")

    dataset.on_item = cancel_midway
    # the heartbeat between batches notices the cancel; batches are small here
    driver.ctx.settings = driver.ctx.settings.model_copy(update={"staging_batch_rows": 2})
    import libs.etl.extract as extract_module

    original = extract_module.HEARTBEAT_EVERY_SECONDS
    extract_module.HEARTBEAT_EVERY_SECONDS = 0.0
    try:
        driver.drain([start_sync(run_id)])
    finally:
        extract_module.HEARTBEAT_EVERY_SECONDS = original
    assert run_row(db, run_id)["status"] == SyncStatus.CANCELLED
    with db.connect() as conn:
        staged = conn.execute(text("SELECT count(*) FROM sis_raw_users WHERE run_id = :r"), {"r": run_id}).scalar_one()
    assert staged == 0
    assert store_counts(db, "district-1")["users"] == (0, 0)


def test_every_phase_delivered_twice_changes_nothing_more(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    district = SmallDistrict()
    provider_id, _ = make_provider(district.records())
    run_id = request(db, provider_id).run_id
    queue = [start_sync(run_id)]
    while queue:
        message, queue = queue[0], queue[1:]
        following = driver.deliver(message)
        # the same message again, after it completed: a no-op that sends nothing
        assert driver.deliver(message) == [] or message.actor == START_SYNC
        queue.extend(following)
    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.SUCCESS
    assert {t: a for t, (a, _) in store_counts(db, "district-1").items()} == district.counts()
    assert run["stats"]["users"]["created"] == len(district.users)


def test_a_stale_worker_cannot_commit_after_its_lease_was_reaped(
    ctx: EtlContext, driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, _ = make_provider(SmallDistrict().records())
    run_id = request(db, provider_id).run_id
    rest = driver.drain([start_sync(run_id)], stop_before=Phase.STAGE.actor)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_sync_runs SET lease_expires_at = now() - interval '1 second' WHERE id = :r"), {"r": run_id}
        )
        assert runs.reap_expired(conn) == [run_id]
    before = store_versions(db)

    assert driver.drain(rest) == []

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.FAILURE
    assert "Abandoned" in run["error_message"]
    assert store_versions(db) == before
    # the provider is free again
    assert request(db, provider_id).created


def test_the_reaper_skips_a_run_whose_transaction_is_alive(
    make_provider: MakeProvider, db: Engine, ctx: EtlContext
) -> None:
    provider_id, _ = make_provider(SmallDistrict().records())
    run_id = request(db, provider_id).run_id
    with db.begin() as conn:
        admitted = runs.admit_pending(conn, max_concurrent=2, per_tenant=2, lease_ms=1000)
    token = admitted[0].lease_token
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_sync_runs SET lease_expires_at = now() - interval '1 second' WHERE id = :r"), {"r": run_id}
        )
    with db.connect() as loader, loader.begin():
        runs.fence_begin(loader, run_id, token)
        with db.begin() as conn:
            assert runs.reap_expired(conn) == []
    with db.begin() as conn:
        assert runs.reap_expired(conn) == [run_id]
    with pytest.raises(runs.LeaseLost), db.begin() as conn:
        runs.heartbeat(conn, run_id, token, lease_ms=1000)


def test_a_late_failure_report_of_a_phase_the_run_has_left_changes_nothing(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    from libs.etl import pipeline

    provider_id, _ = make_provider(SmallDistrict(students=2).records())
    run_id = request(db, provider_id).run_id
    at_stage = driver.drain([start_sync(run_id)], stop_before=Phase.STAGE.actor)
    token = at_stage[0].args[1]
    # a redelivered extract message gave up after another delivery moved the run on to stage
    assert pipeline.fail(driver.ctx, str(run_id), "Internal error in extract", token=token, phase="extract") == []
    assert run_row(db, run_id)["status"] == SyncStatus.IN_PROGRESS
    driver.drain(at_stage)
    assert run_row(db, run_id)["status"] == SyncStatus.SUCCESS
    # a report of the phase the run is in still ends it
    again = request(db, provider_id).run_id
    at_stage = driver.drain([start_sync(again)], stop_before=Phase.STAGE.actor)
    pipeline.fail(driver.ctx, str(again), "Internal error in stage", token=at_stage[0].args[1], phase="stage")
    assert run_row(db, again)["status"] == SyncStatus.FAILURE


def _step_states(db: Engine, run_id: uuid.UUID) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT step, status FROM sis_sync_run_steps WHERE run_id = :r"), {"r": run_id})
        return {row.step: row.status for row in rows}


def test_a_failed_run_leaves_no_step_pending_or_running(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    from libs.etl import pipeline

    provider_id, _ = make_provider(SmallDistrict(students=2).records())
    run_id = request(db, provider_id).run_id
    at_load = driver.drain([start_sync(run_id)], stop_before=Phase.LOAD.actor)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_sync_run_steps SET status = 'running' WHERE run_id = :r AND step = 'load:school'"),
            {"r": run_id},
        )
    pipeline.fail(driver.ctx, str(run_id), "Internal error in load", token=at_load[0].args[1])
    states = _step_states(db, run_id)
    assert states["load:school"] == "failed"
    assert {states[s] for s in ("load:user", "deactivate", "finalize")} == {"skipped"}
    assert set(states.values()) <= {"done", "failed", "skipped"}
