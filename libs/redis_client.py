"""Redis clients built from the settings: one place for the URL and the timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from libs.settings import Settings

# a health check or a metrics scrape must answer even when Redis does not
PROBE_TIMEOUT_SECONDS = 2.0


def redis_client(settings: Settings) -> Any:
    """The process's long-lived client (request budgets, rate limits), or None without REDIS_URL."""
    return redis.Redis.from_url(settings.redis_url) if settings.redis_url else None


@contextmanager
def probe(settings: Settings) -> Iterator[redis.Redis]:
    """A short-lived client with short timeouts, closed afterwards; REDIS_URL must be set."""
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is not set")
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        yield client
    finally:
        client.close()
