"""Collectors read at scrape time: what Postgres and Redis hold now, whoever changed it.

Runs end in workers, in the API (a waiting run cancelled) and in the scheduler (a lease that
expired), so the series of what runs there are and have been come from `sis_sync_runs`, not from
counters of one process. Each scrape costs a few aggregate queries and one LLEN per queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from libs.db.engine import get_engine
from libs.enums import SyncStatus
from libs.etl.phase import Queue
from libs.redis_client import probe
from libs.settings import Settings

log = logging.getLogger(__name__)

# runs the scheduler's reaper ended (libs/etl/runs.reap_expired writes this message)
_REAPED = "Abandoned:%"


class DatabaseState(Collector):
    """Runs by status, the oldest waiting run, providers, stale providers, lease expiries."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tenant = settings.metrics_tenant_labels

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except SQLAlchemyError as exc:
            # the counters of the same scrape are still worth having: these series go missing
            # (an alert on them goes quiet, `absent()` notices) and the scrape answers
            log.warning(
                "metrics: the database did not answer (%s); run and provider series left out", type(exc).__name__
            )

    def _collect(self) -> Iterator[Metric]:
        tenant = ["tenant_id"] if self.tenant else []
        by = ", r.tenant_id" if self.tenant else ""
        with get_engine(self.settings).connect() as conn:
            runs = conn.execute(
                text(
                    f"SELECT r.status::text AS status, p.provider_type::text AS type{by}, count(*) AS n, "
                    "count(*) FILTER (WHERE r.completed_at > now() - interval '24 hours') AS recent, "
                    "count(*) FILTER (WHERE r.error_message LIKE :reaped) AS reaped "
                    "FROM sis_sync_runs r JOIN sis_providers p ON p.id = r.provider_id "
                    f"GROUP BY 1, 2{by}"
                ),
                {"reaped": _REAPED},
            ).all()
            waiting = conn.execute(
                text(
                    "SELECT coalesce(extract(epoch FROM now() - min(requested_at)), 0) FROM sis_sync_runs "
                    "WHERE status = 'PENDING'"
                )
            ).scalar_one()
            providers = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE enabled), count(*) FILTER (WHERE NOT enabled), "
                    "count(*) FILTER (WHERE enabled AND stale_since IS NOT NULL) "
                    "FROM sis_providers WHERE deleted_at IS NULL"
                )
            ).one()
        all_runs = GaugeMetricFamily(
            "sis_sync_runs",
            "Sync runs by status and provider type (all time).",
            labels=["status", "provider_type", *tenant],
        )
        recent = GaugeMetricFamily(
            "sis_sync_runs_completed_24h",
            "Sync runs that ended in the last 24 hours, by status and provider type.",
            labels=["status", "provider_type", *tenant],
        )
        reaped = CounterMetricFamily(
            "sis_sync_lease_expiries",
            "Runs ended FAILURE because their worker stopped renewing the lease (all time).",
            labels=["provider_type", *tenant],
        )
        reaped_by: dict[tuple[str, ...], int] = {}
        for row in runs:
            extra = [str(row.tenant_id)] if self.tenant else []
            all_runs.add_metric([row.status, row.type, *extra], float(row.n))
            if not SyncStatus(row.status).is_active:
                recent.add_metric([row.status, row.type, *extra], float(row.recent))
            key = (row.type, *extra)
            reaped_by[key] = reaped_by.get(key, 0) + int(row.reaped)
        for key, count in reaped_by.items():
            reaped.add_metric(list(key), float(count))
        yield all_runs
        yield recent
        yield reaped
        yield GaugeMetricFamily(
            "sis_sync_oldest_waiting_run_seconds",
            "How long the oldest waiting run has waited for a slot.",
            float(waiting),
        )
        enabled = GaugeMetricFamily("sis_sync_providers", "Configured providers.", labels=["enabled"])
        enabled.add_metric(["true"], float(providers[0]))
        enabled.add_metric(["false"], float(providers[1]))
        yield enabled
        yield GaugeMetricFamily(
            "sis_sync_providers_stale",
            "Enabled providers whose last successful sync is older than their alertAfterHours.",
            float(providers[2]),
        )


class QueueState(Collector):
    """Messages waiting in each worker queue (Dramatiq's Redis lists)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("sis_sync_queue_depth", "Messages waiting in each worker queue.", labels=["queue"])
        if self.settings.redis_url:
            prefix = f"{self.settings.redis_namespace}:dramatiq"
            try:
                with probe(self.settings) as client:
                    lengths = {queue: float(client.llen(f"{prefix}:{queue.value}")) for queue in Queue}
            except redis.RedisError as exc:
                log.warning("metrics: Redis did not answer (%s); queue depths left out", type(exc).__name__)
                return
            for queue, length in lengths.items():
                depth.add_metric([queue.value], length)
        yield depth
