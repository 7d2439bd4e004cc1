"""The scheduler loop: one tick every SCHEDULER_TICK_SECONDS until stopped.

Every tick is safe to run in several replicas at once (see services/scheduler/tick.py).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from libs.settings import Settings
from services.scheduler.tick import tick

log = logging.getLogger(__name__)


def run_forever(settings: Settings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("scheduler stopping (signal %s)", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    log.info("scheduler started, tick every %.1fs", settings.scheduler_tick_seconds)
    while not stop.is_set():
        try:
            tick(settings)
        except Exception:
            log.exception("scheduler tick failed; retrying next tick")
        stop.wait(settings.scheduler_tick_seconds)
