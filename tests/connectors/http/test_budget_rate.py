"""The request budget holds its rate, in Redis (shared by processes) and in one process."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from libs.connectors.http import RequestBudget


def acquisitions(budget: RequestBudget, seconds: float) -> int:
    started, count = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        budget.acquire()
        count += 1
    return count


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "local"])
def test_a_budget_never_lets_more_than_its_rate_plus_burst_through(
    shared: bool, redis_client: Any, redis_namespace: str
) -> None:
    # 1080 a minute (Clever's default budget) is one request per 55.6 ms: a fraction of a
    # millisecond is left over at each wake-up, which Redis's integer replies once swallowed
    interval = 60 / 1080
    budget = RequestBudget(
        redis_client if shared else None,
        f"rate-{uuid.uuid4().hex[:8]}",
        per_minute=1080,
        burst=5,
        namespace=redis_namespace,
    )

    count = acquisitions(budget, 1.5)

    assert count <= 5 + 1.5 / interval + 1
    assert count >= 1.5 / interval - 2
