"""A phase message lost between its commit and its send: the scheduler tick re-sends it.

The run is driven in-process up to the chosen phase, that phase's message is dropped (or, in
the duplicate case, kept back and delivered after the re-sent copy), and a real scheduler tick
against the same database finds the quiet run and sends what its recorded phase needs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, text

from libs.enums import RunKind, SyncStatus
from libs.etl.context import EtlContext
from libs.etl.phase import Next, Phase, Queue, start_sync
from libs.etl.pipeline import PHASES
from libs.settings import Settings
from services.scheduler.tick import tick
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request, run_row, store_counts

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


@pytest.fixture
def broker() -> StubBroker:
    stub = StubBroker()
    for queue in Queue:
        stub.declare_queue(queue.value)
    return stub


def _sent(broker: StubBroker) -> list[Next]:
    out = []
    for queue in Queue:
        pending = broker.queues[queue.value].queue  # type: ignore[attr-defined]
        while pending:
            body = json.loads(pending.popleft())
            out.append(Next(actor=body["actor_name"], queue=Queue(body["queue_name"]), args=tuple(body["args"])))
    return out


def _go_quiet(db: Engine, run_id: uuid.UUID) -> None:
    # what ten minutes without a heartbeat or a dispatch look like, without waiting for them
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE sis_sync_runs SET heartbeat_at = now() - interval '10 minutes', "
                "dispatched_at = now() - interval '10 minutes' WHERE id = :r"
            ),
            {"r": run_id},
        )


@pytest.mark.parametrize("lost", [spec.phase.actor for spec in PHASES if RunKind.SYNC in spec.kinds])
@pytest.mark.parametrize("really_lost", [True, False], ids=["lost", "late-duplicate"])
def test_a_quiet_run_gets_its_phase_message_again_and_finishes_once(
    ctx: EtlContext,
    driver: Driver,
    make_provider: MakeProvider,
    db: Engine,
    broker: StubBroker,
    lost: str,
    really_lost: bool,
) -> None:
    settings: Settings = ctx.settings.model_copy(update={"resend_after_seconds": 60})
    district = SmallDistrict()
    provider_id, _ = make_provider(district.records())
    run_id = request(db, provider_id).run_id
    held = driver.drain([start_sync(run_id)], stop_before=lost)
    dropped, others = held[0], held[1:]
    assert dropped.actor == lost
    # parallel extract steps other than the dropped one still arrive; the fan-in waits for it
    assert driver.drain(others) == []
    phase_before = run_row(db, run_id)["phase"]

    # a run that is merely busy is left alone
    assert tick(settings, broker=broker).resent == 0
    assert _sent(broker) == []

    _go_quiet(db, run_id)
    report = tick(settings, broker=broker)

    assert report.resent == 1
    resent = _sent(broker)
    assert resent == [dropped]
    # the re-send counts as a dispatch: the next tick does not send it again
    assert tick(settings, broker=broker).resent == 0
    assert run_row(db, run_id)["phase"] == phase_before

    follow = driver.drain(resent)
    if not really_lost:
        # the original turns up after all, late: it finds its phase done and does nothing
        follow += driver.drain([dropped])
    assert follow == []

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert {t: a for t, (a, _) in store_counts(db, "district-1").items()} == district.counts()
    assert run["stats"]["users"]["created"] == len(district.users)
    assert run["stats"]["users"]["updated"] == 0


def test_a_run_whose_lease_expired_is_reaped_not_resent(
    ctx: EtlContext, driver: Driver, make_provider: MakeProvider, db: Engine, broker: StubBroker
) -> None:
    settings: Settings = ctx.settings.model_copy(update={"resend_after_seconds": 60})
    provider_id, _ = make_provider(SmallDistrict().records())
    run_id = request(db, provider_id).run_id
    driver.drain([start_sync(run_id)], stop_before=Phase.STAGE.actor)
    _go_quiet(db, run_id)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_sync_runs SET lease_expires_at = now() - interval '1 second' WHERE id = :r"), {"r": run_id}
        )

    report = tick(settings, broker=broker)

    assert (report.reaped, report.resent) == (1, 0)
    assert [m.actor for m in _sent(broker)] == []
    assert run_row(db, run_id)["status"] == SyncStatus.FAILURE
