"""The audit log's one writer: who did what to which target. Details never hold secrets."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text


def record(
    conn: Connection,
    *,
    action: str,
    actor: str,
    target_type: str,
    target_id: object = None,
    tenant_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One `audit_log` row, in the caller's transaction: it commits with the change or not at all.

    `actor`: who acted (a token's subject, "cli", "sis-sync"); `action`: a dotted verb
    ("provider.created"); `tenant_id`: the target's tenant (None: platform-wide); `details`:
    JSON (other values as `str()`). E.g. `record(conn, action="sync.completed",
    actor="sis-sync", target_type="sis_sync_run", target_id=run_id, tenant_id=t, details={...})`.
    """
    conn.execute(
        text(
            "INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, details) "
            "VALUES (:tenant, :actor, :action, :ttype, :tid, CAST(:details AS jsonb))"
        ),
        {
            "tenant": tenant_id,
            "actor": actor,
            "action": action,
            "ttype": target_type,
            "tid": str(target_id) if target_id is not None else None,
            "details": json.dumps(details or {}, default=str),
        },
    )
