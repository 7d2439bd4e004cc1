"""/metrics: Prometheus text exposition of the sync service's state, for operators' dashboards.

Aggregates only (no tenant or provider labels), so the endpoint reveals nothing about any
district and can be scraped without a token from inside the cluster. Computed on scrape from
Postgres (runs) and Redis (queue depths); both queries are cheap.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from libs.db.engine import get_engine
from libs.enums import SyncStatus
from libs.etl.phase import Queue
from libs.redis_client import probe
from libs.settings import Settings


def _lines(settings: Settings) -> list[str]:
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    with get_engine(settings).connect() as conn:
        by_status: dict[str, int] = {
            row[0]: int(row[1])
            for row in conn.execute(text("SELECT status::text, count(*) FROM sis_sync_runs GROUP BY 1"))
        }
        recent: dict[str, int] = {
            row[0]: int(row[1])
            for row in conn.execute(
                text(
                    "SELECT status::text, count(*) FROM sis_sync_runs "
                    "WHERE completed_at > now() - interval '24 hours' GROUP BY 1"
                )
            )
        }
        oldest_pending = conn.execute(
            text(
                "SELECT coalesce(extract(epoch FROM now() - min(requested_at)), 0) FROM sis_sync_runs "
                "WHERE status = 'PENDING'"
            )
        ).scalar_one()
        providers = conn.execute(
            text("SELECT count(*) FILTER (WHERE enabled), count(*) FROM sis_providers WHERE deleted_at IS NULL")
        ).one()
    metric(
        "sis_sync_runs",
        "gauge",
        "Sync runs by status (all time).",
        [(f'{{status="{s.value}"}}', float(by_status.get(s.value, 0))) for s in SyncStatus],
    )
    metric(
        "sis_sync_runs_completed_24h",
        "gauge",
        "Sync runs that ended in the last 24 hours, by status.",
        [(f'{{status="{s.value}"}}', float(recent.get(s.value, 0))) for s in SyncStatus if not s.is_active],
    )
    metric(
        "sis_sync_oldest_pending_seconds",
        "gauge",
        "How long the oldest waiting run has waited for a slot.",
        [("", float(oldest_pending))],
    )
    metric(
        "sis_sync_providers",
        "gauge",
        "Configured providers.",
        [('{enabled="true"}', float(providers[0])), ('{enabled="false"}', float(providers[1] - providers[0]))],
    )
    if settings.redis_url:
        prefix = f"{settings.redis_namespace}:dramatiq"
        with probe(settings) as client:
            depths = [(f'{{queue="{q.value}"}}', float(client.llen(f"{prefix}:{q.value}"))) for q in Queue]
        metric("sis_sync_queue_depth", "gauge", "Messages waiting in each worker queue.", depths)
    return out


async def metrics(request: Request) -> PlainTextResponse:
    settings: Settings = request.app.state.settings
    lines = await asyncio.to_thread(_lines, settings)
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
