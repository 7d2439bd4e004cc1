"""The Redis broker every process shares (API and scheduler send, workers consume)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from libs.etl.phase import Queue
from libs.settings import Settings
from services.queue.clock import RedisClock
from services.queue.consumer import FairConsumer


class SyncBroker(RedisBroker):
    """The Redis broker with a consumer that gives CPU-bound steps one process each, on the
    Redis server's clock (services/queue/clock.py)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.clock = RedisClock(self.client)

    @property
    def consumer_class(self) -> type[FairConsumer]:
        return FairConsumer

    def _dispatch(self, command: str) -> Callable[..., Any]:
        # dramatiq 2.x's RedisBroker._dispatch, with the timestamp from the shared clock instead
        # of this host's (heartbeats, dead-worker detection, acknowledgement times)
        dispatch = self.scripts["dispatch"]
        keys = [self.namespace]

        def do_dispatch(queue_name: str, *args: Any) -> Any:
            return dispatch(
                args=[
                    command,
                    self.clock.now_ms(),
                    queue_name,
                    self.broker_id,
                    self.heartbeat_timeout,
                    self.dead_message_ttl,
                    self._should_do_maintenance(command),
                    self._max_unpack_size(),  # type: ignore[no-untyped-call]
                    *args,
                ],
                keys=keys,
            )

        return do_dispatch

    def queue_key(self, queue_name: str) -> str:
        """The Redis list holding a queue's waiting message ids (what KEDA scales the pools on):
        the dispatch script's `namespace .. ":" .. queue_name`."""
        return f"{self.namespace}:{queue_name}"

    def close(self) -> None:
        # dramatiq's RedisBroker.close leaves its connection pool open: an API or scheduler that
        # shuts down (or a test) would leave its Redis sockets to the garbage collector
        super().close()
        self.client.connection_pool.disconnect()


def build_broker(settings: Settings) -> RedisBroker:
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is not set")
    # A short heartbeat timeout makes Redis hand a dead worker's messages to a live one in
    # seconds instead of minutes; every phase is idempotent, so a redelivery is harmless.
    broker = SyncBroker(
        url=settings.redis_url,
        namespace=f"{settings.redis_namespace}:dramatiq",
        heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_chance,
        dead_message_ttl=7 * 86_400_000,
    )
    broker.add_middleware(CurrentMessage())
    for queue in Queue:
        broker.declare_queue(queue.value)
    return broker


def install_broker(settings: Settings) -> RedisBroker:
    """Build the broker and make it the process default. Must run before actors are declared."""
    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    return broker
