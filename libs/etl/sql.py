"""The fenced transaction every phase writes in, and the data-path session settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

from libs.etl import runs
from libs.etl.context import EtlContext


@contextmanager
def fenced(ctx: EtlContext, run_id: str, token: str, *, statement_ms: int | None = None) -> Iterator[Connection]:
    """A transaction that writes for a run only while the run is ours: it opens with the fence
    (`runs.fence_begin`) and commits only if the statements inside did not raise.

    It is bounded well inside the run's lease. A worker that freezes or loses its network while
    the transaction is open would otherwise hold its lock on the run row for ever, and the
    reaper, which skips locked rows, could never hand the run's slot on. Postgres ends the
    session once it has sat idle in the transaction, or spent on one statement, for half a
    lease (or the phase's shorter `statement_ms`); the lease then runs out and the run is reaped,
    and the frozen worker's late commit finds its connection gone.
    """
    bound = max(ctx.lease_ms // 2, 1)
    with ctx.engine.connect() as conn, conn.begin():
        conn.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {bound}"))
        conn.execute(text(f"SET LOCAL statement_timeout = {min(statement_ms or bound, bound)}"))
        runs.fence_begin(conn, run_id, token)
        yield conn


def data_path_settings(conn: Connection) -> None:
    """Per-transaction settings for set-based staging, stage and load statements.

    `synchronous_commit = off` is safe here: the phase's data and its phase move commit in the
    same transaction, so a lost commit loses both and the redelivered message redoes the phase.
    A larger `work_mem` keeps the hash joins of a district in memory; JIT compilation costs more
    than it saves on these statements.
    """
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    conn.execute(text("SET LOCAL jit = off"))


def analyze(ctx: EtlContext, *tables: str) -> None:
    """Fresh planner statistics, committed at once in a transaction of their own.

    ANALYZE takes a lock that conflicts with itself and holds it to the end of its transaction.
    The staging and link tables are shared by every tenant's runs: inside a phase's fenced
    transaction, one slow or frozen run would stall the stage and load of every other run. A
    small sample is plenty to tell a join planner "this is a district, not an empty table".
    SKIP_LOCKED: when another run is analyzing the same shared table, its statistics are as
    fresh as ours would be, so this run does not wait for it.
    """
    with ctx.engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL default_statistics_target = 10"))
        for table in tables:
            conn.execute(text(f"ANALYZE (SKIP_LOCKED) {table}"))
