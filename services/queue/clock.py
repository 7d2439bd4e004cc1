"""The broker's clock: the Redis server's, not the host's.

Dramatiq's Redis broker stamps every command with the caller's clock (worker heartbeats, the
time a message was taken) and a worker's maintenance calls a worker dead when its last heartbeat
is older than the heartbeat timeout by the maintaining worker's clock. Two hosts whose clocks
differ by more than that timeout (15 s by default) then take each other for dead and redeliver
each other's messages mid-phase: duplicate work, and load parts racing their own duplicates.
Reading the time from Redis, the one server every worker shares, makes the hosts' clocks
irrelevant. The offset to it is measured once every REFRESH_SECONDS (one TIME command), not per
command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

REFRESH_SECONDS = 10.0


class RedisClock:
    """Milliseconds on the Redis server's clock: the local clock plus a measured offset."""

    def __init__(
        self, client: Any, *, local: Callable[[], float] = time.time, refresh: float = REFRESH_SECONDS
    ) -> None:
        self._client = client
        self._local = local
        self._refresh = refresh
        self._offset_ms = 0
        self._measured_at: float | None = None
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        measured = self._measured_at
        if measured is None or time.monotonic() - measured > self._refresh:
            self._measure()
        return int(self._local() * 1000) + self._offset_ms

    def _measure(self) -> None:
        with self._lock:
            before = self._local()
            seconds, micros = self._client.time()
            after = self._local()
            # the server answered somewhere in the round trip: take its middle
            self._offset_ms = int(seconds) * 1000 + int(micros) // 1000 - int((before + after) / 2 * 1000)
            self._measured_at = time.monotonic()
