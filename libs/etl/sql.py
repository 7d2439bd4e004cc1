"""Session settings and small SQL helpers shared by the data-path phases."""

from __future__ import annotations

from sqlalchemy import Connection, text


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
