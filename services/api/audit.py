"""Audit entries of API operations: `libs.audit.record` with the calling principal as the actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from libs import audit
from libs.auth import Principal


def record(conn: Connection, principal: Principal, action: str, **fields: Any) -> None:
    """`fields`: target_type, target_id, tenant_id, details, as `libs.audit.record` takes them."""
    audit.record(conn, action=action, actor=principal.subject, **fields)
