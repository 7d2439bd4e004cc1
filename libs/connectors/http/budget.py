"""A request budget per provider, shared by every worker process through Redis.

SIS APIs limit requests per token (Clever: 1200 per minute). Workers extracting in parallel
must share one budget, so the budget lives in Redis as a GCRA ("generic cell rate") bucket:
one key holding the theoretical arrival time, advanced atomically by a Lua script that reads
Redis's own clock, so hosts with skewed clocks still agree. A 429's reset time can also pause
the whole pool at once.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from libs.connectors.pauses import pause

# Returns 0 when a request may go now (and counts it), else the milliseconds to wait, rounded
# up: Redis truncates a Lua number reply to an integer, and a wait of 0.7 ms read as 0 would let
# a request through that the script never counted.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return math.ceil(paused - now) end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return math.ceil(allow_at - now) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now + tolerance + 1000))
return 0
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms
"""


def credential_key(*parts: str) -> str:
    """A budget key for a credential (token, client id + district) that does not reveal it.

    Sources limit per credential, not per provider row: two providers sharing a token share
    its budget. Only a digest reaches Redis, never the secret itself.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"cred-{digest[:32]}"


class RequestBudget:
    """At most `per_minute` requests per rolling minute (plus `burst`), across all processes.

    Parameters:
      redis: a redis.Redis client, or None for a budget local to this process.
      key: identifies the budget, usually the provider id (or the credential it limits).
    """

    def __init__(
        self,
        redis: Any,
        key: str,
        *,
        per_minute: int,
        burst: int = 10,
        namespace: str = "sis-sync",
        sleep: Callable[[float], None] = pause,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self._interval_ms = 60_000.0 / per_minute
        self._tolerance_ms = self._interval_ms * max(burst - 1, 0)
        self._sleep = sleep
        self._redis = redis
        self._keys = [f"{namespace}:budget:{key}:tat", f"{namespace}:budget:{key}:paused"]
        self._gcra = redis.register_script(_GCRA) if redis is not None else None
        self._pause = redis.register_script(_PAUSE) if redis is not None else None
        self._lock = threading.Lock()
        self._local_tat = 0.0
        self._local_paused = 0.0
        self.waited_seconds = 0.0

    def acquire(self, deadline: float | None = None) -> bool:
        """Block until one request may be sent; False at once when that is past `deadline` (time.monotonic())."""
        while True:
            wait_ms = self._try()
            if wait_ms <= 0:
                return True
            if deadline is not None and time.monotonic() + wait_ms / 1000.0 > deadline:
                return False
            self.waited_seconds += wait_ms / 1000.0
            self._sleep(wait_ms / 1000.0)

    def pause(self, seconds: float) -> None:
        """Hold every worker of this budget for `seconds` (after a 429 with a reset time)."""
        ms = max(0, math.ceil(seconds * 1000))
        if self._pause is not None:
            self._pause(keys=[self._keys[1]], args=[ms])
            return
        with self._lock:
            self._local_paused = max(self._local_paused, time.monotonic() * 1000 + ms)

    def _try(self) -> float:
        if self._gcra is not None:
            return float(self._gcra(keys=self._keys, args=[self._interval_ms, self._tolerance_ms]))
        with self._lock:
            now = time.monotonic() * 1000
            if self._local_paused > now:
                return self._local_paused - now
            tat = max(self._local_tat, now)
            allow_at = tat - self._tolerance_ms
            if now < allow_at:
                return allow_at - now
            self._local_tat = tat + self._interval_ms
            return 0.0
