"""Audit entries for every mutation: who, what, which target, when. Details never hold secrets."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from libs.auth import Principal


def record(
    conn: Connection,
    principal: Principal,
    action: str,
    *,
    target_type: str,
    target_id: object,
    tenant_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write in the caller's transaction, so the entry commits with the change or not at all."""
    conn.execute(
        text(
            "INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, details) "
            "VALUES (:tenant, :actor, :action, :ttype, :tid, CAST(:details AS jsonb))"
        ),
        {
            "tenant": tenant_id,
            "actor": principal.subject,
            "action": action,
            "ttype": target_type,
            "tid": str(target_id) if target_id is not None else None,
            "details": json.dumps(details or {}, default=str),
        },
    )
