"""Per-token rate limits in Redis (fixed one-minute windows), shared by every API replica."""

from __future__ import annotations

import logging
import time
from typing import Any

from services.api.problems import ApiError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class RateLimiter:
    def __init__(self, client: Any, *, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def hit(self, key: str, limit: int) -> None:
        """Count one request against `key`; raise 429 once `limit` is passed in this window."""
        if self.client is None:
            return
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        name = f"{self.namespace}:{key}:{window}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS + 5)
            count = int(pipe.execute()[0])
        except Exception as exc:
            # a Redis outage must not take the API down with it; limits resume when it is back
            log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
            return
        if count > limit:
            retry = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
            raise ApiError(
                429,
                f"rate limit of {limit} per minute exceeded; retry in {retry} s",
                headers={"Retry-After": str(retry)},
                retryAfter=retry,
            )
