"""Worker entry point for the dramatiq CLI: install the broker first, then declare the actors.

Order matters: an actor binds to the broker current when it is declared (see dramatiq's
`get_broker`), so `install_broker` runs before `services.workers.actors` is imported.
"""

from __future__ import annotations

import dramatiq

from libs.connectors import pauses
from libs.logs import configure_logging
from libs.settings import get_settings
from services.queue.broker import install_broker


class EndWaits(dramatiq.Middleware):
    """On shutdown, connector waits (retry backoff, rate limits) end at once, so the worker stops
    in seconds and hands its messages back rather than waiting out a source's outage."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        pauses.SHUTDOWN.set()


settings = get_settings()
configure_logging(settings)
broker = install_broker(settings)
broker.add_middleware(EndWaits())

import services.workers.actors  # noqa: E402, F401 - declares the actors on the installed broker
