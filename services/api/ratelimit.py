"""Per-token rate limits in Redis (sliding one-minute windows), shared by every API replica.

Each key is a sorted set of the times of the requests it let through in the last minute. A
fixed per-minute counter would let twice the limit through around a minute boundary (a full
minute's worth just before it and another just after); the sliding log never lets more than
`limit` through in any 60 seconds, and tells a refused caller exactly when the oldest counted
request leaves the window. Refused requests are not counted, so a client that keeps retrying
is let in again once the window has room. One Lua script does the trim, count and add, so
concurrent replicas cannot both take the last slot.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from services.api.problems import ApiError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

# KEYS[1]: the limit's key. ARGV: now (ms), window (ms), limit, a unique member for this request.
# Returns 0 when the request is let through, otherwise the milliseconds until it would be.
_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
-- room for one more once all but limit - 1 of the counted requests have left the window
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RateLimiter:
    def __init__(self, client: Any, *, namespace: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.namespace = namespace
        # wall-clock seconds; every replica must agree on it, as they share the keys
        self.clock = clock
        self._script = client.register_script(_SLIDING_WINDOW) if client is not None else None

    def hit(self, key: str, limit: int) -> None:
        """Count one request against `key`; raise 429 if `limit` were passed in the last minute."""
        if self._script is None:
            return
        now_ms = int(self.clock() * 1000)
        try:
            wait_ms = int(
                self._script(
                    keys=[f"{self.namespace}:{key}"],
                    args=[now_ms, WINDOW_SECONDS * 1000, limit, f"{now_ms}:{uuid.uuid4().hex}"],
                )
            )
        except Exception as exc:
            # a Redis outage must not take the API down with it; limits resume when it is back
            log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
            return
        if wait_ms > 0:
            retry = max(1, math.ceil(wait_ms / 1000))
            raise ApiError(
                429,
                f"rate limit of {limit} per minute exceeded; retry in {retry} s",
                headers={"Retry-After": str(retry)},
                retryAfter=retry,
            )
