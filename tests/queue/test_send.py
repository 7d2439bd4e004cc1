"""Sending after a commit rides out a Redis outage instead of losing the run's next message."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from libs.etl.phase import Next, Queue
from services.queue import send as send_module
from services.queue.send import send


class FlakyBroker:
    """Refuses the first `failures` sends the way redis-py does while Redis is down."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[Any] = []

    def enqueue(self, message: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append(message)


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(send_module.time, "sleep", pauses.append)
    return pauses


def test_a_send_during_a_redis_outage_is_retried_until_redis_answers(no_pauses: list[float]) -> None:
    broker = FlakyBroker(failures=4)
    send([Next("sis.stage", Queue.LOAD, ("run", "token"))], broker, patience=60)  # type: ignore[arg-type]
    assert [m.actor_name for m in broker.sent] == ["sis.stage"]
    assert no_pauses == [0.5, 1.0, 2.0, 4.0]


def test_a_send_gives_up_after_its_patience(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(send_module.time, "monotonic", lambda: float(next(clock)))
    broker = FlakyBroker(failures=1000)
    with pytest.raises(redis.ConnectionError):
        send([Next("sis.stage", Queue.LOAD, ("run", "token"))], broker, patience=25)  # type: ignore[arg-type]
    assert broker.sent == []
    assert broker.failures == 1000 - 3  # at 0, 10 and 20 s; at 30 s patience has run out
