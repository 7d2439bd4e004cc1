"""FairConsumer against a real Redis: one CPU-bound message per process, plain ones up to prefetch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis as redis_lib
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name

from libs.etl.phase import Next, Queue
from libs.settings import Settings, load_settings
from services.queue.broker import build_broker
from services.queue.consumer import FairConsumer
from services.queue.send import CPU_BOUND, send
from tests.support.workers import wait_until

QUEUE = Queue.EXTRACT.value
PROBE = "test.fair_probe"
REPO = Path(__file__).resolve().parents[2]

# The worker processes run this; `serve` below is the code, so both sides share the key names.
WORKER_COMMAND = "import sys; from tests.queue.test_fair_consumer import serve; serve(sys.argv[1], sys.argv[2])"


@pytest.fixture
def queue_settings(redis_url: str, redis_namespace: str) -> Iterator[Settings]:
    namespace = f"{redis_namespace}-fair-{uuid.uuid4().hex[:8]}"
    yield load_settings(redis_url=redis_url, redis_namespace=namespace, app_env="test")
    client = redis_lib.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def broker(queue_settings: Settings) -> Iterator[RedisBroker]:
    broker = build_broker(queue_settings)
    yield broker
    broker.close()


def _send(broker: RedisBroker, *names: str, cpu_bound: bool) -> None:
    send([Next(PROBE, Queue.EXTRACT, (name,), cpu_bound=cpu_bound) for name in names], broker=broker)


def _waiting(broker: RedisBroker, queue: str = QUEUE) -> int:
    # ids still on the Redis list: left for any process to take, not cached by this consumer
    return int(broker.client.llen(f"{broker.namespace}:{queue}"))


def _names(*proxies: MessageProxy | None) -> list[str | None]:
    return [None if proxy is None else proxy.args[0] for proxy in proxies]


def _take(consumer: Consumer) -> MessageProxy:
    proxy = next(consumer)
    assert proxy is not None
    return proxy


def test_closing_the_broker_closes_its_redis_connections(queue_settings: Settings) -> None:
    broker = build_broker(queue_settings)
    _send(broker, "one", cpu_bound=False)
    pool = broker.client.connection_pool
    connections = list(pool._available_connections) + list(pool._in_use_connections)
    assert connections
    assert all(c._sock is not None for c in connections)

    broker.close()

    assert all(c._sock is None for c in connections)


def test_the_broker_consumes_with_the_fair_consumer(broker: RedisBroker) -> None:
    assert isinstance(broker.consume(QUEUE, prefetch=4, timeout=100), FairConsumer)


def test_a_cpu_bound_message_holds_further_fetches_until_it_is_acked_or_nacked(broker: RedisBroker) -> None:
    _send(broker, "cpu-1", "cpu-2", cpu_bound=True)
    _send(broker, "plain", cpu_bound=False)
    consumer = broker.consume(QUEUE, prefetch=4, timeout=100)

    first = _take(consumer)
    assert _names(first) == ["cpu-1"]
    # prefetch would allow three more, yet while cpu-1 runs the others stay on the queue
    assert next(consumer) is None
    assert next(consumer) is None
    assert _waiting(broker) == 2

    consumer.ack(first)
    second = _take(consumer)
    assert _names(second) == ["cpu-2"]
    assert next(consumer) is None
    assert _waiting(broker) == 1

    # a failed message releases the hold as well
    consumer.nack(second)
    assert _names(next(consumer)) == ["plain"]
    assert _waiting(broker) == 0


def test_plain_messages_fill_the_prefetch_without_acks(broker: RedisBroker) -> None:
    _send(broker, "p1", "p2", "p3", "p4", "p5", cpu_bound=False)
    consumer = broker.consume(QUEUE, prefetch=4, timeout=100)

    taken = [_take(consumer) for _ in range(4)]
    assert _names(*taken) == ["p1", "p2", "p3", "p4"]
    # full at prefetch, like dramatiq's own consumer
    assert next(consumer) is None
    assert _waiting(broker) == 1

    consumer.ack(taken[0])
    assert _names(next(consumer)) == ["p5"]


def test_a_plain_message_in_flight_does_not_keep_a_cpu_bound_one_away(broker: RedisBroker) -> None:
    _send(broker, "plain", cpu_bound=False)
    _send(broker, "cpu", cpu_bound=True)
    consumer = broker.consume(QUEUE, prefetch=4, timeout=100)

    assert _names(next(consumer), next(consumer)) == ["plain", "cpu"]


def test_delayed_cpu_bound_messages_do_not_hold_the_delay_queue(broker: RedisBroker) -> None:
    # A retry waits out its backoff in the delay queue and runs later from the main queue. Holding
    # the delay queue on it would keep every other delayed message of this process waiting too.
    for name in ("retry-1", "retry-2"):
        options = {CPU_BOUND: True}
        broker.enqueue(dramatiq.Message(QUEUE, PROBE, (name,), {}, options), delay=60_000)
    consumer = broker.consume(dq_name(QUEUE), prefetch=4, timeout=100)

    assert _names(next(consumer), next(consumer)) == ["retry-1", "retry-2"]


# --- across processes -------------------------------------------------------------------------


def _keys(namespace: str) -> tuple[str, str, str]:
    return f"{namespace}:probe:ready", f"{namespace}:probe:started", f"{namespace}:probe:done"


def serve(redis_url: str, namespace: str) -> None:
    """A worker process: two threads on QUEUE, a probe actor, until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    broker = build_broker(load_settings(redis_url=redis_url, redis_namespace=namespace, app_env="test"))
    client = redis_lib.Redis.from_url(redis_url)
    ready, started, done = _keys(namespace)

    def probe(name: str) -> None:
        client.rpush(started, f"{os.getpid()}:{name}")
        # both probes must be running at once for either to see the other
        deadline = time.monotonic() + 15
        while client.llen(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        client.rpush(done, f"{os.getpid()}:{name}:{client.llen(started)}")

    dramatiq.actor(broker=broker, actor_name=PROBE, queue_name=QUEUE, max_retries=0)(probe)
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=2, worker_timeout=100)
    worker.start()
    client.rpush(ready, os.getpid())
    stop.wait()
    worker.stop(timeout=5_000)
    broker.close()
    client.close()


def _start_worker(settings: Settings, log_path: Path) -> tuple[subprocess.Popen[bytes], Any]:
    log = log_path.open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_COMMAND, str(settings.redis_url), settings.redis_namespace],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, log


def test_two_cpu_bound_messages_run_at_once_in_two_processes(
    queue_settings: Settings, broker: RedisBroker, tmp_path: Path
) -> None:
    ready, started, done = _keys(queue_settings.redis_namespace)
    client = redis_lib.Redis.from_url(str(queue_settings.redis_url), decode_responses=True)
    workers = [_start_worker(queue_settings, tmp_path / f"worker-{i}.log") for i in range(2)]
    pids = {proc.pid for proc, _ in workers}

    def logs() -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(tmp_path.glob("worker-*.log")))

    def decoded(key: str) -> list[str]:
        return [str(item) for item in client.lrange(key, 0, -1)]

    try:
        wait_until(lambda: len(decoded(ready)) == 2, timeout=30, what=f"both workers to start\n{logs()}")
        # each worker's two threads and prefetch of four would take both, were they plain messages
        _send(broker, "package", "enrollments", cpu_bound=True)
        wait_until(lambda: len(decoded(done)) == 2, timeout=30, what=f"both probes to finish\n{logs()}")

        ran_in = {entry.split(":")[0] for entry in decoded(started)}
        assert ran_in == {str(pid) for pid in pids}, logs()
        # each probe saw both started before it finished: they ran at the same time
        assert sorted(entry.split(":", 1)[1] for entry in decoded(done)) == ["enrollments:2", "package:2"]
    finally:
        for proc, _ in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in workers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        client.close()
