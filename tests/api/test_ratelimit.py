"""The API's rate limiter against real Redis: a sliding minute, on a clock the test moves."""

from __future__ import annotations

import logging
import socket
import threading
import uuid

import pytest
import redis as redis_lib

from libs.settings import Settings
from services.api.problems import ApiError
from services.api.ratelimit import RateLimiter
from tests.api.conftest import FakeClock

# a calendar-minute boundary, so the tests below can straddle one on purpose
BOUNDARY = 1_800_000_000.0
assert BOUNDARY % 60 == 0


def limiter(client: redis_lib.Redis, settings: Settings, clock: FakeClock) -> RateLimiter:
    return RateLimiter(client, namespace=f"{settings.redis_namespace}:rl-{uuid.uuid4().hex[:8]}", clock=clock)


def refusal(rl: RateLimiter, key: str, limit: int) -> ApiError:
    with pytest.raises(ApiError) as refused:
        rl.hit(key, limit)
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == str(refused.value.extra["retryAfter"])
    return refused.value


def test_a_minute_boundary_does_not_let_twice_the_limit_through(
    redis_client: redis_lib.Redis, settings: Settings
) -> None:
    clock = FakeClock(BOUNDARY - 30)
    rl = limiter(redis_client, settings, clock)
    for at in (BOUNDARY - 30, BOUNDARY - 20, BOUNDARY - 1):
        clock.now = at
        rl.hit("k", 3)
    # two seconds later, in a new calendar minute: a per-minute counter would start again at 0
    clock.now = BOUNDARY + 1
    for _ in range(5):
        # refusals are not counted, so retrying does not push the next free slot further out
        assert refusal(rl, "k", 3).extra["retryAfter"] == 29
    clock.now = BOUNDARY + 30  # the request at BOUNDARY - 30 has left the window
    rl.hit("k", 3)
    assert refusal(rl, "k", 3).extra["retryAfter"] == 10


def test_a_lowered_limit_waits_until_enough_requests_have_left_the_window(
    redis_client: redis_lib.Redis, settings: Settings
) -> None:
    clock = FakeClock(BOUNDARY)
    rl = limiter(redis_client, settings, clock)
    for offset in (0, 10, 20):
        clock.now = BOUNDARY + offset
        rl.hit("k", 3)
    clock.now = BOUNDARY + 25
    # with a limit of 2 the request at +0 and the one at +10 must both leave first
    assert refusal(rl, "k", 2).extra["retryAfter"] == 45
    # a sub-second wait is still announced as a whole second, never as 0
    clock.now = BOUNDARY + 69.6
    assert refusal(rl, "k", 2).extra["retryAfter"] == 1
    clock.now = BOUNDARY + 70
    rl.hit("k", 2)


def test_keys_have_budgets_of_their_own(redis_client: redis_lib.Redis, settings: Settings) -> None:
    rl = limiter(redis_client, settings, FakeClock(BOUNDARY))
    rl.hit("sync:token-1:provider-1", 1)
    refusal(rl, "sync:token-1:provider-1", 1)
    rl.hit("sync:token-1:provider-2", 1)
    rl.hit("sync:token-2:provider-1", 1)


def test_replicas_sharing_redis_let_exactly_the_limit_through(redis_url: str, settings: Settings) -> None:
    namespace = f"{settings.redis_namespace}:rl-{uuid.uuid4().hex[:8]}"
    clock = FakeClock(BOUNDARY)
    # one client (one connection pool) per replica
    replicas = [RateLimiter(redis_lib.Redis.from_url(redis_url), namespace=namespace, clock=clock) for _ in range(4)]
    allowed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(replicas))

    def hammer(rl: RateLimiter) -> None:
        start.wait()
        for _ in range(10):
            try:
                rl.hit("shared", 7)
            except ApiError:
                continue
            with lock:
                allowed.append(1)

    threads = [threading.Thread(target=hammer, args=(rl,)) for rl in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rl in replicas:
        rl.client.close()
    assert len(allowed) == 7


def test_requests_are_allowed_while_redis_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    client = redis_lib.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    rl = RateLimiter(client, namespace="unreachable", clock=FakeClock(BOUNDARY))
    with caplog.at_level(logging.WARNING, logger="services.api.ratelimit"):
        for _ in range(3):
            rl.hit("k", 1)
    assert [r.getMessage() for r in caplog.records] == [
        "rate limiter unavailable (ConnectionError); request allowed"
    ] * 3
    client.close()
