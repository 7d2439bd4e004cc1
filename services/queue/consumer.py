"""A Redis consumer that spreads CPU-bound messages over worker processes.

Dramatiq's Redis consumer fetches up to `prefetch` (threads x 2) messages in one round trip, so
the first idle process takes every message a run fans out at once. That is right for steps that
wait on the network (threads overlap the waits) and wrong for steps that parse a file: two
parsers in one process share one interpreter lock while the next process idles. This consumer
fetches one message per round trip and fetches nothing more while it holds a message marked
CPU-bound (see `services.queue.send.CPU_BOUND`), so each such message goes to a process with
no other parser, and network-bound messages still fill every thread.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed

from services.queue.send import CPU_BOUND


class FairConsumer(_RedisConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        # ids of CPU-bound messages this process fetched and has not yet acked or nacked
        self.cpu_bound_ids: set[str] = set()

    def ack(self, message: Any) -> None:
        try:
            super().ack(message)  # type: ignore[no-untyped-call]
        finally:
            self.cpu_bound_ids.discard(message.message_id)

    def nack(self, message: Any) -> None:
        try:
            super().nack(message)  # type: ignore[no-untyped-call]
        finally:
            self.cpu_bound_ids.discard(message.message_id)

    def __next__(self) -> Any:
        if self.queue_name.endswith(".DQ"):
            # a delayed message (a retry) only waits here for its eta and then runs from the main
            # queue, where the hold applies; holding here would keep this process from fetching any
            # other delayed message until that eta
            return super().__next__()  # type: ignore[no-untyped-call]
        if not self.message_cache:
            if self.cpu_bound_ids or self.outstanding_message_count >= self.prefetch:
                # busy parsing (or full): the queue's next message is left to another process
                return self._idle()
            # one at a time, so a CPU-bound message is seen before the next one is taken
            try:
                self.message_cache = self.broker.do_fetch(self.queue_name, 1)
            except redis.ConnectionError as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
            if not self.message_cache:
                return self._idle()
        proxy = super().__next__()  # type: ignore[no-untyped-call]
        if proxy is not None and proxy.options.get(CPU_BOUND):
            self.cpu_bound_ids.add(proxy.message_id)
        return proxy

    def _idle(self) -> None:
        # the same progressive long poll as dramatiq's consumer, up to the idle timeout
        self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
        time.sleep(backoff_ms / 1000)
        return None


__all__ = ["FairConsumer"]
