"""Runs that admission ends (reaped, or their provider disabled) announce it like any other end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, text

from libs.db.dev_secrets import config_cipher
from libs.etl import pipeline, runs
from libs.etl.context import EtlContext
from libs.etl.phase import Next
from libs.webhooks import events, store
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


def _announced(out: list[Next]) -> list[tuple[str, str]]:
    bodies = [json.loads(m.args[2]) for m in out if m.actor == events.DELIVER]
    return [(b["type"], b["data"]["runId"]) for b in bodies]


def test_a_reaped_run_and_a_waiting_run_of_a_disabled_provider_announce_their_failure(
    make_provider: MakeProvider, db: Engine, ctx: EtlContext
) -> None:
    with db.begin() as conn:
        store.create(
            conn,
            config_cipher(ctx.settings),
            tenant_id="district-1",
            url="https://hooks.example.test/x",
            events=["run.failed"],
            enabled=True,
        )
    dead, _ = make_provider(SmallDistrict().records())
    disabled, _ = make_provider(SmallDistrict().records())
    lost = request(db, dead).run_id
    with db.begin() as conn:
        runs.admit_pending(conn, max_concurrent=10, per_tenant=10, lease_ms=1000)
        conn.execute(
            text("UPDATE sis_sync_runs SET lease_expires_at = now() - interval '1 second' WHERE id = :r"), {"r": lost}
        )
    waiting = request(db, disabled).run_id
    with db.begin() as conn:
        conn.execute(text("UPDATE sis_providers SET enabled = false WHERE id = :p"), {"p": disabled})

    with db.begin() as conn:
        out = pipeline.admit(conn, ctx.settings)

    assert sorted(_announced(out)) == sorted([("run.failed", str(lost)), ("run.failed", str(waiting))])
    # kept in the outbox with the run's end, so a crash before the send loses neither
    with db.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM sis_webhook_outbox WHERE settled_at IS NULL")).scalar_one()
    assert kept == 2
