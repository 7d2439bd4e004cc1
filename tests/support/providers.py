"""Providers and runs for tests, created the way the API creates them (providers: devkit/providers.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, text

from devkit.providers import create_provider, update_config
from libs.enums import LOAD_ORDER, SyncMode, SyncStatus, SyncTrigger
from libs.etl import runs
from libs.etl.details import RunOptions

__all__ = [
    "assert_stats_add_up",
    "create_provider",
    "request",
    "run_row",
    "store_counts",
    "store_versions",
    "update_config",
]


def request(
    engine: Engine,
    provider_id: uuid.UUID,
    *,
    mode: SyncMode = SyncMode.FULL,
    options: dict[str, Any] | None = None,
) -> runs.RunRequest:
    with engine.begin() as conn:
        return runs.request_run(
            conn,
            provider_id,
            trigger=SyncTrigger.MANUAL,
            requested_by="test",
            mode=mode,
            options=RunOptions.model_validate(options or {}),
        )


def run_row(engine: Engine, run_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM sis_sync_runs WHERE id = :r"), {"r": run_id}).one()
    return dict(row._mapping)


def assert_stats_add_up(run: dict[str, Any]) -> None:
    """A finished run's stats, as the API shows them, count each received record once:
    received = created + updated + unchanged + linked + reactivated + errors, per entity type."""
    if run["status"] not in (SyncStatus.SUCCESS, SyncStatus.PARTIAL):
        return  # a failed or cancelled run reports what it applied, not every record it read
    if run.get("kind") == "undo":
        return  # an undo receives nothing: it takes back what another run applied
    for entity in LOAD_ORDER:
        s = run["stats"][entity.plural]
        parts = {k: s[k] for k in ("created", "updated", "unchanged", "linked", "reactivated", "errors")}
        assert s["received"] == sum(parts.values()), f"run {run['id']}, {entity.plural}: {s['received']} != {parts}"
        assert s["matchedByEmail"] + s["matchedByStudentNumber"] <= s["linked"], (entity.plural, s)


def store_counts(engine: Engine, tenant_id: str) -> dict[str, tuple[int, int]]:
    """(active, inactive) per roster table of a tenant."""
    out = {}
    with engine.connect() as conn:
        for table in ("schools", "terms", "classes", "users", "enrollments"):
            row = conn.execute(
                text(
                    f"SELECT count(*) FILTER (WHERE active) AS a, count(*) FILTER (WHERE NOT active) AS i "
                    f"FROM {table} WHERE tenant_id = :t"
                ),
                {"t": tenant_id},
            ).one()
            out[table] = (int(row.a), int(row.i))
    return out


def store_versions(engine: Engine) -> dict[str, set[tuple[str, str]]]:
    """Every roster and link row with its xmin: equal before and after means nothing was written."""
    out = {}
    with engine.connect() as conn:
        for table in ("schools", "terms", "classes", "users", "enrollments"):
            out[table] = {(str(r[0]), str(r[1])) for r in conn.execute(text(f"SELECT id, xmin FROM {table}"))}
        out["sis_entity_links"] = {
            (f"{r[0]}/{r[1]}/{r[2]}", str(r[3]))
            for r in conn.execute(text("SELECT provider_id, entity_type, external_id, xmin FROM sis_entity_links"))
        }
    return out
