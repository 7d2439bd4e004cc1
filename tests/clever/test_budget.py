"""Two worker processes sharing one Clever token stay under Clever's per-token limit together.

Scaled down in time: a 6-second window of 120 requests is Clever's 1200 a minute. The
connector's budget keeps about the same slack in seconds as its default has against a real
60-second window (1080 a minute + a burst of 10 leaves 110 requests, ~6 s, of margin): here
900 a minute leaves 20 requests, ~1.3 s, for requests that reach the server later than they
left the budget (a loaded CI machine).
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from typing import Any

import pytest

from devkit.generator import ids as gen_ids
from devkit.simulators.clever.app import Simulator, create_app
from devkit.simulators.serving import ThreadedServer, serving
from tests.clever.budget_worker import extract_step

WINDOW_SECONDS = 6
LIMIT = 120  # 1200 per minute


@pytest.fixture
def limited(small_district: Any) -> Iterator[tuple[ThreadedServer, Simulator]]:
    sim = Simulator(small_district, limit=LIMIT, window_seconds=WINDOW_SECONDS)
    with serving(create_app(sim)) as server:
        yield server, sim


def run_workers(server: ThreadedServer, redis_url: str | None, namespace: str) -> list[dict[str, Any]]:
    settings = {
        "clientId": "sim-client-id",
        "clientSecret": "sim-client-secret",
        "districtId": gen_ids.clever_id("district", gen_ids.DISTRICT_ID),
        "apiUrl": server.url,
        "oauthUrl": server.url,
        "pageSize": 10,
        "requestsPerMinute": 900,
    }
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    workers = [
        spawn.Process(target=extract_step, args=(settings, step, redis_url, namespace, out))
        for step in ("students", "students")
    ]
    for worker in workers:
        worker.start()
    try:
        results = [out.get(timeout=120) for _ in workers]
    except queue.Empty:
        pytest.fail("a worker did not finish")
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    out.close()
    return results


def test_two_workers_sharing_the_redis_budget_never_exceed_the_token_limit(
    limited: tuple[ThreadedServer, Simulator], redis_url: str, redis_namespace: str
) -> None:
    server, sim = limited

    results = run_workers(server, redis_url, redis_namespace)

    report = sim.limiter.report()
    total = sum(w["count"] for w in report["windows"])
    assert total > 2 * LIMIT  # enough traffic that two uncoordinated workers would break the limit
    assert report["maxPerWindow"] <= LIMIT
    assert report["refused"] == 0
    assert sum(r["requests"]["rateLimited"] for r in results) == 0
    assert [r["records"] for r in results] == [1500, 1500]


def test_without_the_shared_budget_the_same_workers_break_the_limit(
    limited: tuple[ThreadedServer, Simulator], redis_namespace: str
) -> None:
    # the control: each process has a budget of its own, so together they run at twice the rate
    server, sim = limited

    results = run_workers(server, None, redis_namespace)

    assert sim.limiter.report()["maxPerWindow"] > LIMIT
    assert sum(r["requests"]["rateLimited"] for r in results) > 0
