"""The broker keeps time by Redis, not by the host it runs on (services/queue/clock.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis as redis_lib
from dramatiq.brokers import redis as dramatiq_redis

from libs.settings import Settings
from services.queue.broker import SyncBroker, build_broker
from services.queue.clock import RedisClock

SKEW = -120.0  # a host two minutes behind


@pytest.fixture
def skewed_broker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncBroker]:
    # the host's clock as dramatiq reads it, and as our clock reads it
    monkeypatch.setattr(dramatiq_redis, "current_millis", lambda: int((time.time() + SKEW) * 1000))
    broker = build_broker(settings.model_copy(update={"redis_namespace": f"{settings.redis_namespace}-clock"}))
    assert isinstance(broker, SyncBroker)
    broker.clock = RedisClock(broker.client, local=lambda: time.time() + SKEW)
    yield broker
    broker.client.delete(*broker.client.keys(f"{broker.namespace}:*") or ["none"])
    broker.close()


def server_ms(client: redis_lib.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_a_host_with_a_skewed_clock_heartbeats_at_the_servers_time(skewed_broker: SyncBroker) -> None:
    client = skewed_broker.client
    skewed_broker.do_fetch("sis.extract", 1)  # any command writes the caller's heartbeat
    (member, score), *_ = client.zrange(f"{skewed_broker.namespace}:__heartbeats__", 0, -1, withscores=True)
    assert member.decode() == skewed_broker.broker_id
    # by the host's own clock the heartbeat would be two minutes old: dead to every other worker
    assert abs(score - server_ms(client)) < 2_000


def test_the_offset_is_measured_again_after_the_refresh_interval(redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    local = [time.time()]
    clock = RedisClock(client, local=lambda: local[0], refresh=0.05)
    assert abs(clock.now_ms() - server_ms(client)) < 2_000
    local[0] += 3600  # the host's clock jumps an hour
    time.sleep(0.1)
    assert abs(clock.now_ms() - server_ms(client)) < 2_000
    client.close()
