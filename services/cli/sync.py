"""`sis-sync sync PROVIDER_ID [--preview] [--wait]`: an operator's manual sync, as the API requests one.

With `--wait` it prints a progress line while the run goes and how it ended; a held run also
prints its plan per entity type and action. Exit status: 0 SUCCESS (or HELD after
`--preview`), 3 HELD for review, 1 otherwise (PARTIAL, FAILURE, CANCELLED), 2 for a request
that could not be made.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any, TextIO

from sqlalchemy import Engine, text

from libs import audit
from libs.db.engine import get_engine
from libs.enums import FINAL_STATUSES, LOAD_ORDER, SyncStatus, SyncTrigger
from libs.etl import runs, schedule
from libs.etl.details import ACTIONS, RunOptions
from libs.etl.options import ProviderOptions
from libs.etl.phase import start_sync
from libs.logs import configure_logging
from libs.settings import load_settings
from libs.webhooks import events as webhook_events
from services.queue.broker import build_broker
from services.queue.send import send

ACTOR = "cli"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sync", help="run a sync of a provider now (or a preview that waits for review)")
    parser.add_argument("provider_id", metavar="PROVIDER_ID", type=uuid.UUID, help="the provider to sync (its id)")
    parser.add_argument("--preview", action="store_true", help="extract and plan, then hold for review")
    parser.add_argument("--wait", action="store_true", help="print progress until the run ends or holds")
    parser.add_argument("--actor", default=ACTOR, help="who to record as the requester and in the audit log")
    parser.set_defaults(handler=run_sync)


def run_sync(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings)
    engine = get_engine(settings)
    try:
        run_id, created, superseded = _request(engine, args.provider_id, preview=args.preview, actor=args.actor)
    except runs.ProviderNotFound:
        print(f"sis-sync: no provider {args.provider_id}", file=sys.stderr)
        return 2
    broker = build_broker(settings)
    try:
        if created:
            send([start_sync(run_id), *superseded], broker, patience=settings.outage_grace_seconds)
            print(f"run {run_id} requested{' (preview)' if args.preview else ''}")
        else:
            print(f"run {run_id} of this provider is already pending or in progress")
        if not args.wait:
            return 0
        return _wait(engine, run_id, preview=args.preview, out=sys.stdout)
    finally:
        broker.close()


def _request(engine: Engine, provider_id: uuid.UUID, *, preview: bool, actor: str) -> tuple[uuid.UUID, bool, list[Any]]:
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT tenant_id, options, last_full_sync_at FROM sis_providers WHERE id = :p AND deleted_at IS NULL"
            ),
            {"p": provider_id},
        ).first()
        if row is None:
            raise runs.ProviderNotFound(str(provider_id))
        mode = schedule.choose_mode(ProviderOptions.from_stored(row.options), row.last_full_sync_at, schedule.utcnow())
        options = RunOptions(preview=preview)
        request = runs.request_run(
            conn, provider_id, trigger=SyncTrigger.MANUAL, requested_by=actor, mode=mode, options=options
        )
        if request.created:
            audit.record(
                conn,
                action="sync.requested",
                actor=actor,
                target_type="run",
                target_id=request.run_id,
                tenant_id=row.tenant_id,
                details={"providerId": str(provider_id), "mode": mode.value, **options.to_json()},
            )
        ended = [m for run in request.superseded for m in webhook_events.run_ended(conn, run)]
    return request.run_id, request.created, ended


def _wait(engine: Engine, run_id: uuid.UUID, *, preview: bool, out: TextIO, interval: float = 1.0) -> int:
    last = ""
    while True:
        with engine.connect() as conn:
            run = conn.execute(
                text("SELECT status, phase, error_message, stats FROM sis_sync_runs WHERE id = :r"), {"r": run_id}
            ).one()
            steps = conn.execute(
                text(
                    "SELECT count(*) AS total, count(*) FILTER (WHERE status IN ('done', 'skipped')) AS done "
                    "FROM sis_sync_run_steps WHERE run_id = :r"
                ),
                {"r": run_id},
            ).one()
        status = SyncStatus(run.status)
        if status in FINAL_STATUSES:
            break
        state = status.value.lower().replace("_", " ")
        line = f"{state}: {run.phase or 'waiting for a slot'}, {steps.done}/{steps.total} steps"
        if line != last:
            print(line, file=out, flush=True)
            last = line
        time.sleep(interval)
    print(f"run {run_id} {status.value}{': ' + run.error_message if run.error_message else ''}", file=out)
    if status is SyncStatus.HELD:
        print(plan_table((run.stats or {}).get("plan") or {}), file=out)
        print(f"review: GET /api/v1/runs/{run_id}/changes; then POST .../approve or .../reject", file=out)
        return 0 if preview else 3
    return 0 if status is SyncStatus.SUCCESS else 1


def plan_table(plan: dict[str, dict[str, int]]) -> str:
    """The plan's counts per entity type and action, as aligned text."""
    header = ["entity", *ACTIONS]
    rows = [[e.plural, *(f"{(plan.get(e.plural) or {}).get(a, 0):,}" for a in ACTIONS)] for e in LOAD_ORDER]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    )
