"""Waits a run can cut short: a cancel or a worker shutdown ends them within about a second.

Connectors wait in several places (retry backoff, a 429's reset time, the request budget, an SFTP
upload settling). Each waits through `pause`, which sleeps in short slices and asks the check the
engine installed for this thread (`stopping`) whether to go on. A stop raises `Interrupted`, a
BaseException so that no connector's error handling turns it into a source error; the engine
catches it around the phase.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# set when the worker process is shutting down: every wait ends at once
SHUTDOWN = threading.Event()

SLICE_SECONDS = 1.0

# returns why to stop (a short reason) or None to go on
StopCheck = Callable[[], str | None]
_CHECK: ContextVar[StopCheck | None] = ContextVar("sis_sync_stop_check", default=None)


class Interrupted(BaseException):
    """A wait cut short; `cancelled` tells a cancelled run from a worker shutting down."""

    def __init__(self, reason: str, *, cancelled: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cancelled = cancelled


def checkpoint() -> None:
    """Raise Interrupted if this thread's run should stop now (between chunks of a transfer)."""
    if SHUTDOWN.is_set():
        raise Interrupted("the worker is shutting down", cancelled=False)
    check = _CHECK.get()
    reason = check() if check is not None else None
    if reason is not None:
        raise Interrupted(reason, cancelled=True)


def pause(seconds: float) -> None:
    """time.sleep that a cancel or a shutdown cuts short (with Interrupted)."""
    end = time.monotonic() + seconds
    while True:
        checkpoint()
        left = end - time.monotonic()
        if left <= 0:
            return
        SHUTDOWN.wait(min(left, SLICE_SECONDS))


@contextmanager
def stopping(check: StopCheck) -> Iterator[None]:
    """Install the check that this thread's waits consult while the block runs."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)
