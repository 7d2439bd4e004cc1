"""A worker pool's /metrics: what its processes counted, summed, plus the queue and run state.

Dramatiq starts each function a middleware names in `forks` as a process of its own beside the
worker processes. This one serves WORKER_METRICS_PORT: the pool's counters from
prometheus_client's multiprocess files (the directory `sis-sync worker` made before the pool
started) and the scrape-time state of Postgres and Redis (`libs.metrics.state`). Dramatiq's own
Prometheus middleware serves only its message counters, from a fixed directory shared by every
pool on the host; this one serves the sync's series, and each pool keeps its own files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import dramatiq
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from libs.metrics.state import DatabaseState, QueueState
from libs.settings import Settings, get_settings

log = logging.getLogger(__name__)


class ServeMetrics(dramatiq.Middleware):
    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve]


def pool_registry(settings: Settings, directory: Path) -> CollectorRegistry:
    """What a pool serves: its processes' counters, summed from their files, and the state."""
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(DatabaseState(settings))
    registry.register(QueueState(settings))
    return registry


def serve() -> int:
    """Run the metrics server until the pool stops (SIGTERM ends this process)."""
    settings = get_settings()
    registry = pool_registry(settings, Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    try:
        server, thread = start_http_server(settings.worker_metrics_port, addr=settings.host, registry=registry)
    except OSError as exc:
        # the pool works on without metrics rather than stopping over a busy port
        log.error("worker metrics: cannot listen on %s:%s (%s)", settings.host, settings.worker_metrics_port, exc)
        return 1
    log.info("worker metrics on http://%s:%s/metrics", settings.host, settings.worker_metrics_port)
    thread.join()
    server.shutdown()
    return 0
