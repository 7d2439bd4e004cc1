"""A run stalled inside a phase's transaction holds up no other tenant's stage or load.

Staging and link tables are shared by every tenant's runs. A phase that took a table lock there
for its whole transaction (ANALYZE inside the fenced transaction did) would make one frozen or
slow run a wait for all the others.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from libs.enums import EntityType, SyncStatus
from libs.etl import steps
from libs.etl.context import EtlContext
from libs.etl.phase import Next, Phase, start_sync
from libs.etl.sql import analyze
from libs.etl.staging import STAGING_TABLES
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request, run_row

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


class Stall:
    """Holds one run's phase transaction open, just before it commits, until released."""

    def __init__(self, run_id: uuid.UUID, phase: Phase) -> None:
        self.run_id, self.phase = str(run_id), phase
        self.holding, self.release = threading.Event(), threading.Event()
        self._complete = steps.complete

    def complete(self, conn: Any, run_id: Any, step: str, **kwargs: Any) -> bool:
        if str(run_id) == self.run_id and self.phase.owns(step):
            self.holding.set()
            self.release.wait(60)
        return self._complete(conn, run_id, step, **kwargs)


@pytest.fixture
def background() -> Iterator[Callable[[Callable[[], Any]], threading.Thread]]:
    threads: list[threading.Thread] = []

    def start(work: Callable[[], Any]) -> threading.Thread:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(60)


@pytest.mark.parametrize("phase", [Phase.STAGE, Phase.LOAD], ids=["stage", "load"])
def test_another_tenants_run_stages_and_loads_while_one_run_holds_its_transaction_open(
    driver: Driver,
    make_provider: MakeProvider,
    db: Engine,
    monkeypatch: pytest.MonkeyPatch,
    background: Callable[[Callable[[], Any]], threading.Thread],
    phase: Phase,
) -> None:
    stalled_provider, _ = make_provider(SmallDistrict(students=4).records(), tenant_id="district-1")
    other_provider, _ = make_provider(SmallDistrict(students=4).records(), tenant_id="district-2")
    stalled = request(db, stalled_provider).run_id
    other = request(db, other_provider).run_id
    # both runs are admitted together and extracted; each stops at its stage
    at_stage = driver.drain([start_sync(stalled)], stop_before=Phase.STAGE.actor)
    while any(m.actor != Phase.STAGE.actor for m in at_stage):
        at_stage = driver.drain(at_stage[1:] + at_stage[:1], stop_before=Phase.STAGE.actor)
    stalled_at = [m for m in at_stage if m.args[0] == str(stalled)]
    other_at = [m for m in at_stage if m.args[0] == str(other)]
    assert len(stalled_at) == len(other_at) == 1
    if phase is Phase.LOAD:
        stalled_at = driver.deliver(stalled_at[0])
        assert [m.actor for m in stalled_at] == [Phase.LOAD.actor]

    stall = Stall(stalled, phase)
    monkeypatch.setattr(steps, "complete", stall.complete)
    stalled_rest: list[Next] = []
    stalled_phase = background(lambda: stalled_rest.extend(driver.deliver(stalled_at[0])))
    assert stall.holding.wait(30), "the stalled run never reached the end of its phase"

    other_done = background(lambda: Driver(driver.ctx).drain(other_at))
    other_done.join(30)
    finished_while_stalled = not other_done.is_alive()
    stall.release.set()
    other_done.join(60)
    assert finished_while_stalled, f"a run stalled in {phase.value} held up another tenant's stage and load"
    assert run_row(db, other)["status"] == SyncStatus.SUCCESS

    # the stalled run itself then goes on and finishes normally
    stalled_phase.join(60)
    monkeypatch.setattr(steps, "complete", stall._complete)
    driver.drain(stalled_rest + stalled_at[1:])
    assert run_row(db, stalled)["status"] == SyncStatus.SUCCESS


def test_statistics_of_a_shared_table_do_not_wait_for_another_runs_analyze(
    ctx: EtlContext, db: Engine, background: Callable[[Callable[[], Any]], threading.Thread]
) -> None:
    # another run's ANALYZE of the links holds the lock ANALYZE conflicts with; this run's
    # statistics are then as fresh as that run's, so it goes on instead of queueing behind it
    with db.connect() as holder, holder.begin():
        holder.execute(text("LOCK TABLE sis_entity_links IN SHARE UPDATE EXCLUSIVE MODE"))
        analyzed = background(lambda: analyze(ctx, "sis_entity_links", STAGING_TABLES[EntityType.USER].name))
        analyzed.join(15)
        waited = analyzed.is_alive()
    assert not waited, "ANALYZE of a shared table waited for another session's ANALYZE"
