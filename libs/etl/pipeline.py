"""The phases of a run in one table, and the one function that runs any of them.

A row says where a phase's messages go, how long one may run, whether it opens the provider's
config (only the phases that talk to the source do), how it divides into parts, and its body.
`run_phase` does what every phase needs around its body: it checks that the run is ours and in
this phase, marks the step running, opens a fenced transaction, records the step done, moves
the run on (or ends it) and returns the `Next` messages for the caller to send after commit. A
cancel ends the run CANCELLED, a config no key opens ends it FAILURE, a lost lease or a
duplicate delivery stops quietly.

Parts: LOAD runs once per entity type, in order (the run's phase says which: `load:user`);
EXTRACT runs the parts PLAN fanned out in parallel, and the last to finish moves the run on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from libs.connectors import pauses
from libs.connectors.errors import ConnectorError
from libs.db.engine import await_database, reachable
from libs.enums import LOAD_ORDER, RunKind, SyncStatus
from libs.etl import deactivate, extract, finalize, held, load, plan, runs, stage, steps, undo
from libs.etl.context import EtlContext
from libs.etl.details import ExtractDetail, StageDetail, plan_counts
from libs.etl.phase import DONE, Job, Next, Phase, Queue, RunFailed, StepDone
from libs.etl.providers import ConfigUnreadable, load_run
from libs.etl.sql import fenced
from libs.logs import bind, run_context
from libs.metrics import counters
from libs.metrics import runs as run_metrics
from libs.settings import Settings
from libs.webhooks import events as webhook_events

log = logging.getLogger(__name__)

_MINUTE = 60_000

Body = Callable[[Job, Connection], StepDone]


@dataclass(frozen=True)
class PhaseSpec:
    phase: Phase
    queue: Queue
    time_limit_ms: int
    body: Body
    # the body talks to the source: the provider's config is decrypted (and a config no key opens
    # ends the run) before it starts
    needs_config: bool = False
    # work done before the phase's transaction opens (a network call that must not pin a snapshot);
    # its result is `job.prepared`
    before: Callable[[Job], Any] | None = None
    # work done after the phase's transaction committed
    after: Callable[[Job], None] | None = None
    # fixed parts run one after another (LOAD: one per entity type)
    parts: Sequence[str] = ()
    # parts planned by the previous phase, run in parallel (EXTRACT)
    parallel: bool = False
    # the longest one statement of the body may take (COPY batches, bookkeeping); None for the
    # set-based phases, whose statements over a whole district get up to half the lease
    statement_ms: int | None = 2 * _MINUTE
    # the kinds of run that go through this phase (a sync reads and applies; an undo takes back)
    kinds: tuple[RunKind, ...] = (RunKind.SYNC,)


PHASES: tuple[PhaseSpec, ...] = (
    PhaseSpec(Phase.PLAN, Queue.EXTRACT, 30 * _MINUTE, plan.body, needs_config=True, before=plan.ask_connector),
    PhaseSpec(
        Phase.EXTRACT,
        Queue.EXTRACT,
        360 * _MINUTE,
        extract.body,
        needs_config=True,
        before=extract.open_extraction,
        parallel=True,
    ),
    PhaseSpec(Phase.STAGE, Queue.LOAD, 120 * _MINUTE, stage.body, statement_ms=None),
    PhaseSpec(
        Phase.LOAD, Queue.LOAD, 120 * _MINUTE, load.body, parts=tuple(e.value for e in LOAD_ORDER), statement_ms=None
    ),
    PhaseSpec(Phase.DEACTIVATE, Queue.LOAD, 120 * _MINUTE, deactivate.body, statement_ms=None),
    PhaseSpec(
        Phase.UNDO,
        Queue.LOAD,
        120 * _MINUTE,
        undo.body,
        parts=tuple(e.value for e in LOAD_ORDER),
        statement_ms=None,
        kinds=(RunKind.UNDO,),
    ),
    PhaseSpec(
        Phase.FINALIZE,
        Queue.CONTROL,
        10 * _MINUTE,
        finalize.body,
        needs_config=True,
        after=finalize.purge_staging,
        kinds=(RunKind.SYNC, RunKind.UNDO),
    ),
)
SPECS = {spec.phase: spec for spec in PHASES}


def run_phase(ctx: EtlContext, phase: Phase, run_id: str, token: str, part: str | None = None) -> list[Next]:
    """Deliver one phase message; returns what to send once this has returned (all committed).

    An unreachable database (a restart, a failover, a network cut) is waited out here and the
    phase repeated: a run survives an outage of up to OUTAGE_GRACE_SECONDS. A longer one ends the
    run FAILURE once the database answers again, saying for how long it was gone. A database
    error while the database answers (a bug, a session ended under a frozen worker) goes to the
    worker's retries.
    """
    spec = SPECS[phase]
    with run_context(run_id=run_id, phase=phase.step(part)):
        lost_at: float | None = None
        while True:
            try:
                return _guarded(ctx, spec, run_id, token, part)
            except DBAPIError as exc:
                if reachable(ctx.engine):
                    raise
                lost_at = lost_at or time.monotonic()
                log.warning(
                    "run %s: the database is unreachable in %s (%s)", run_id, phase.step(part), type(exc.orig).__name__
                )
                down = await_database(ctx.engine, since=lost_at, give_up_after=ctx.lease_ms / 1000)
                if down is None:
                    raise
            if down > ctx.settings.outage_grace_seconds:
                message = f"Database unreachable for {down:.0f} s during {phase.step(part)}; the sync stopped"
                return fail(ctx, run_id, message, token=token, phase=position_of(spec, part))
            log.info("run %s: the database is back after %.0f s; %s starts again", run_id, down, phase.step(part))


def _guarded(ctx: EtlContext, spec: PhaseSpec, run_id: str, token: str, part: str | None) -> list[Next]:
    try:
        with pauses.stopping(_stop_check(ctx, run_id)):
            return _run(ctx, spec, run_id, token, part)
    except pauses.Interrupted as exc:
        if exc.cancelled:
            return cancel(ctx, run_id)
        # the worker is stopping: the message goes back for another worker to take
        raise WorkerStopping(exc.reason) from None
    except ConfigUnreadable as exc:
        return fail(ctx, run_id, exc.message, token=token)
    except (ConnectorError, RunFailed) as exc:
        return fail(ctx, run_id, exc.message, token=token)
    except runs.RunCancelled:
        return cancel(ctx, run_id)
    except runs.PhaseMoved:
        log.info("run %s: duplicate %s delivery ignored", run_id, spec.phase.step(part))
        return []
    except runs.LeaseLost:
        log.warning("run %s: lease lost, this worker stops", run_id)
        return []


class WorkerStopping(Exception):
    """A phase cut short by its worker's shutdown; the worker's retry hands the message on."""


def _stop_check(ctx: EtlContext, run_id: str) -> pauses.StopCheck:
    """Why a wait of this run's connector should end (a cancel, the run ended), asked of the
    database at most once a second so a cancel reaches a retrying source within seconds."""
    asked = 0.0

    def check() -> str | None:
        nonlocal asked
        if time.monotonic() - asked < 1.0:
            return None
        asked = time.monotonic()
        try:
            with ctx.engine.connect() as conn:
                return runs.stop_reason(conn, run_id)
        except DBAPIError:
            return None  # the database is away: the wait goes on, and the phase meets the outage itself

    return check


def position_of(spec: PhaseSpec, part: str | None) -> str:
    """Where the run stands while this phase (or part) runs: the phase of parallel parts, else the step."""
    return spec.phase.value if spec.parallel else spec.phase.step(part)


def _run(ctx: EtlContext, spec: PhaseSpec, run_id: str, token: str, part: str | None) -> list[Next]:
    step = spec.phase.step(part)
    position = position_of(spec, part)
    with ctx.engine.begin() as conn:
        if runs.current_phase(conn, run_id, token) != position or steps.status(conn, run_id, step) == "done":
            return []
        steps.mark_running(conn, run_id, step)
        job = Job(ctx, load_run(conn, run_id), token, part)
    bind(provider_id=job.provider.provider_id, tenant_id=job.provider.tenant_id)
    started = time.monotonic()
    try:
        if spec.needs_config:
            job.open_config()
        if spec.before is not None:
            job.prepared = spec.before(job)
        with fenced(ctx, run_id, token, statement_ms=spec.statement_ms) as conn:
            done = spec.body(job, conn)
            if not steps.complete(conn, run_id, step, records=done.records, detail=done.detail):
                raise runs.PhaseMoved(run_id)
            out = _move_on(ctx, conn, spec, job, position, done)
    finally:
        job.close()
    counters.phase_done(
        spec.phase.value, job.provider.provider_type.value, job.provider.tenant_id, time.monotonic() - started
    )
    if spec.after is not None:
        spec.after(job)
    return out


def _move_on(ctx: EtlContext, conn: Connection, spec: PhaseSpec, job: Job, position: str, done: StepDone) -> list[Next]:
    run_id, token = str(job.run_id), job.token
    if spec.parallel:
        # the run row's lock orders the parts that finish together: the last one sees the others done
        runs.fence_commit(conn, run_id, token, lease_ms=ctx.lease_ms)
        if steps.parts(conn, run_id, spec.phase.value, pending=True):
            return []
    to = _following(spec, job.part, job.provider.kind)
    if done.hold and to is not None:
        # a stop in the table: the run waits HELD, slot freed, and resumes at `to` when approved
        stats = finalize.summarize(
            {row["step"]: row for row in steps.all_details(conn, run_id)}, finalize.error_counts(conn, job.run_id)
        )
        stats.plan = plan_counts(steps.detail(conn, run_id, Phase.STAGE.step(), StageDetail).entities)
        if not held.hold(
            conn,
            run_id,
            token,
            resume_at=to,
            reasons=done.hold,
            stats=stats.to_json(),
            ttl_hours=ctx.settings.held_plan_ttl_hours,
        ):
            raise runs.LeaseLost(run_id)
        log.info("run %s held for review: %s", run_id, "; ".join(done.hold))
        return admit(conn, ctx.settings) + webhook_events.run_ended(conn, run_id)
    if to is None:
        assert done.status is not None, "the last phase says how the run ends"
        if not runs.finish(conn, run_id, status=done.status, error_message=done.message, token=token):
            raise runs.LeaseLost(run_id)
        log.info("run %s finished %s", run_id, done.status.value)
        run_metrics.run_ended(conn, run_id)
        return admit(conn, ctx.settings) + webhook_events.run_ended(conn, run_id)
    if done.fan_out:
        # the parts of the parallel phase that follows, and every later step, pending, so a run
        # shows all it will do
        nxt = SPECS[Phase.of(to)[0]]
        later = [
            s.phase.step(p)
            for s in PHASES[PHASES.index(nxt) + 1 :]
            if job.provider.kind in s.kinds
            for p in (s.parts or (None,))
        ]
        steps.create(conn, run_id, [(nxt.phase.step(n), d) for n, d in done.fan_out] + [(s, None) for s in later])
    runs.advance(conn, run_id, token, from_phase=position, to_phase=to, lease_ms=ctx.lease_ms)
    return messages_at(conn, job.run_id, token, to)


def _following(spec: PhaseSpec, part: str | None, kind: RunKind = RunKind.SYNC) -> str | None:
    """The run's position after this phase (or part of it); None after the last phase of its kind."""
    if spec.parts and part is not None and part != spec.parts[-1]:
        return spec.phase.step(spec.parts[spec.parts.index(part) + 1])
    later = [s for s in PHASES[PHASES.index(spec) + 1 :] if kind in s.kinds]
    if not later:
        return None
    nxt = later[0]
    return nxt.phase.step(nxt.parts[0]) if nxt.parts else nxt.phase.value


def messages_at(conn: Connection, run_id: uuid.UUID | str, token: uuid.UUID | str, position: str | None) -> list[Next]:
    """The messages a run at this position needs: after a move, and to re-send a lost one."""
    if not position or position == DONE:
        return []
    phase, part = Phase.of(position)
    spec = SPECS[phase]
    args = (str(run_id), str(token))
    if not spec.parallel:
        return [Next(phase.actor, spec.queue, args + ((part,) if part else ()))]
    pending = steps.parts(conn, run_id, phase.value, pending=True)
    return [
        Next(
            phase.actor,
            spec.queue,
            (*args, Phase.of(row["step"])[1] or ""),
            cpu_bound=bool((ExtractDetail.model_validate(row["detail"] or {}).step or {}).get("cpu_bound")),
        )
        for row in pending
    ]


def admit(conn: Connection, settings: Settings) -> list[Next]:
    """Admit waiting runs (oldest first) into free slots; each gets the message of its position. Runs
    that admission ended (reaped, or their provider disabled) announce their end."""
    ended: list[uuid.UUID] = []
    admitted = runs.admit_pending(
        conn,
        max_concurrent=settings.max_concurrent_syncs,
        per_tenant=settings.max_concurrent_syncs_per_tenant,
        lease_ms=settings.sync_lock_timeout,
        ended=ended,
    )
    # a new run starts at plan; an approved HELD run resumes where it stopped
    out = [m for a in admitted for m in messages_at(conn, a.run_id, a.lease_token, a.phase)]
    return out + [m for run_id in ended for m in webhook_events.run_ended(conn, run_id)]


def start(ctx: EtlContext, run_id: str) -> list[Next]:
    """A requested run: admit from the head of the waiting queue.

    The run named in the message is not admitted ahead of older waiting runs: waiting lives in
    Postgres, in request order, and whichever start, finish or scheduler tick comes next admits
    from the head of that queue.
    """
    with ctx.engine.begin() as conn:
        sent = admit(conn, ctx.settings)
    if not any(m.args[0] == str(uuid.UUID(run_id)) for m in sent):
        log.info(
            "run %s waits for a free slot (MAX_CONCURRENT_SYNCS=%s, MAX_CONCURRENT_SYNCS_PER_TENANT=%s)",
            run_id,
            ctx.settings.max_concurrent_syncs,
            ctx.settings.max_concurrent_syncs_per_tenant,
        )
    return sent


def cancel(ctx: EtlContext, run_id: str) -> list[Next]:
    """End a run whose cancel was requested; its in-flight transactions roll back at their fence."""
    with ctx.engine.begin() as conn:
        state = runs.lease_state(conn, run_id)
        if state is None or state["cancel_requested_at"] is None:
            return []
        return _end(ctx, conn, run_id, SyncStatus.CANCELLED, "Cancelled by request", None)


def fail(
    ctx: EtlContext, run_id: str, message: str, *, token: str | None = None, phase: str | None = None
) -> list[Next]:
    """End a run FAILURE with a message for the admin; free its slot for the next one. With a
    phase (a step), only while the run is still there."""
    with ctx.engine.begin() as conn:
        return _end(ctx, conn, run_id, SyncStatus.FAILURE, message, token, phase)


def _end(
    ctx: EtlContext,
    conn: Connection,
    run_id: str,
    status: SyncStatus,
    message: str,
    token: str | None,
    phase: str | None = None,
) -> list[Next]:
    if not runs.finish(conn, run_id, status=status, error_message=message, token=token, phase=phase):
        return []
    run_metrics.run_ended(conn, run_id)
    log.log(
        logging.INFO if status is SyncStatus.CANCELLED else logging.WARNING, "run %s %s: %s", run_id, status, message
    )
    return admit(conn, ctx.settings) + webhook_events.run_ended(conn, run_id)


def stale_runs(conn: Connection, settings: Settings) -> list[Next]:
    """Re-send the message of each run that went quiet with a live lease (a send lost after its
    commit); every phase is idempotent and fenced, so one that was not lost is a harmless duplicate."""
    out: list[Next] = []
    for run_id, token, position in runs.stale_in_progress(conn, quiet_seconds=settings.resend_after_seconds):
        log.warning("run %s quiet in phase %s; re-sending its message", run_id, position)
        out.extend(messages_at(conn, run_id, token, position))
        runs.touch_dispatched(conn, run_id)
    return out
