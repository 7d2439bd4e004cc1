"""The phase table decides the order of a run, its steps, its messages and its actors."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterator

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, text

from libs.enums import LOAD_ORDER, SyncStatus
from libs.etl import pipeline
from libs.etl.phase import START_SYNC, Phase, start_sync
from libs.etl.pipeline import PHASES
from libs.etl.providers import RunProvider
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request, run_row

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


def test_a_run_delivers_its_phases_in_table_order(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    provider_id, _ = make_provider(SmallDistrict(students=3).records())
    run_id = request(db, provider_id).run_id

    driver.drain([start_sync(run_id)])

    assert run_row(db, run_id)["status"] == SyncStatus.SUCCESS
    delivered = [(m.actor, m.args[2] if len(m.args) > 2 else None) for m in driver.delivered if m.actor != START_SYNC]
    extract_parts = sorted(part or "" for actor, part in delivered if actor == Phase.EXTRACT.actor)
    expected = [(Phase.PLAN.actor, None)]
    expected += [(Phase.EXTRACT.actor, part) for part in extract_parts]
    expected += [(Phase.STAGE.actor, None)]
    expected += [(Phase.LOAD.actor, entity.value) for entity in LOAD_ORDER]
    expected += [(Phase.DEACTIVATE.actor, None), (Phase.FINALIZE.actor, None)]
    assert [(a, p) for a, p in delivered if a != Phase.EXTRACT.actor] == [
        (a, p) for a, p in expected if a != Phase.EXTRACT.actor
    ]
    assert extract_parts == sorted(e.plural for e in LOAD_ORDER)
    with db.connect() as conn:
        steps = conn.execute(text("SELECT step, status FROM sis_sync_run_steps WHERE run_id = :r"), {"r": run_id}).all()
    # one step per phase, one per part, every one of them done
    assert sorted(s.step for s in steps) == sorted(
        [Phase.PLAN.step(), Phase.STAGE.step(), Phase.DEACTIVATE.step(), Phase.FINALIZE.step()]
        + [Phase.EXTRACT.step(p) for p in extract_parts]
        + [Phase.LOAD.step(e.value) for e in LOAD_ORDER]
    )
    assert {s.status for s in steps} == {"done"}


def test_only_the_phases_that_talk_to_the_source_decrypt_the_config(
    driver: Driver, make_provider: MakeProvider, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_id, _ = make_provider(SmallDistrict(students=3).records())
    opened_in: list[Phase] = []
    current: list[Phase] = []
    real_run_phase = pipeline.run_phase
    real_decrypt = RunProvider.decrypt

    def run_phase(ctx: object, phase: Phase, *args: str) -> object:
        current.append(phase)
        return real_run_phase(ctx, phase, *args)  # type: ignore[arg-type]

    def decrypt(self: RunProvider, cipher: object) -> object:
        opened_in.append(current[-1])
        return real_decrypt(self, cipher)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "run_phase", run_phase)
    monkeypatch.setattr(RunProvider, "decrypt", decrypt)

    driver.sync(provider_id)

    assert set(opened_in) == {spec.phase for spec in PHASES if spec.needs_config}
    assert {Phase.STAGE, Phase.LOAD, Phase.DEACTIVATE}.isdisjoint(opened_in)


@pytest.fixture
def stub_actors() -> Iterator[StubBroker]:
    import services.workers.actors as actors

    before = dramatiq.broker.global_broker
    broker = StubBroker()
    dramatiq.set_broker(broker)
    try:
        importlib.reload(actors)
        yield broker
    finally:
        broker.close()
        dramatiq.broker.global_broker = before


def test_the_worker_declares_one_actor_per_table_row(stub_actors: StubBroker) -> None:
    for spec in PHASES:
        actor = stub_actors.get_actor(spec.phase.actor)
        assert actor.queue_name == spec.queue.value
        assert actor.options["time_limit"] == spec.time_limit_ms
    assert {spec.phase.actor for spec in PHASES} <= set(stub_actors.get_declared_actors())
