"""Worker entry point for the dramatiq CLI: install the broker first, then declare the actors.

Order matters: an actor binds to the broker current when it is declared (see dramatiq's
`get_broker`), so `install_broker` runs before `services.workers.actors` is imported.
"""

from __future__ import annotations

import os

import dramatiq

from libs import tracing
from libs.connectors import pauses
from libs.logs import configure_logging
from libs.metrics import counters
from libs.settings import get_settings
from services.queue.broker import install_broker
from services.workers.metrics import ServeMetrics
from services.workers.tracing import TraceMessages


class EndWaits(dramatiq.Middleware):
    """On shutdown, connector waits (retry backoff, rate limits) end at once, so the worker stops
    in seconds and hands its messages back rather than waiting out a source's outage."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        pauses.SHUTDOWN.set()


settings = get_settings()
configure_logging(settings)
counters.configure(settings)
broker = install_broker(settings)
broker.add_middleware(EndWaits())
# `sis-sync worker` made the directory its processes count into; without it (a worker started
# some other way) nothing would sum them, so nothing is served
if settings.worker_metrics_port and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    broker.add_middleware(ServeMetrics())
# this module is imported in each worker process, after the fork: the span exporter's thread lives here
if tracing.setup("sis-sync-worker"):
    broker.add_middleware(TraceMessages())

import services.workers.actors  # noqa: E402, F401 - declares the actors on the installed broker
