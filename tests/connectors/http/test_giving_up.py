"""Waiting is bounded: a source that never recovers fails the request with a clear error."""

from __future__ import annotations

import httpx
import pytest

from libs.connectors.errors import ProviderUnavailable, RateLimited
from libs.connectors.http import HttpSession, RetryPolicy, build_client


def _session(handler: object, policy: RetryPolicy, slept: list[float]) -> HttpSession:
    return HttpSession(
        build_client(transport=httpx.MockTransport(handler)),  # type: ignore[arg-type]
        policy=policy,
        sleep=slept.append,
        source_name="Clever",
    )


def test_a_source_that_keeps_rate_limiting_gives_up_within_the_wait_bound() -> None:
    slept: list[float] = []
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "30"})

    session = _session(handler, RetryPolicy(max_attempts=100, max_wait=100), slept)
    with pytest.raises(RateLimited) as info:
        session.get("https://api.clever.com/v3.0/users")

    assert "Clever kept rate-limiting requests (HTTP 429)" in info.value.message
    assert "giving up" in info.value.message
    # three waits of ~30 s fit under 100 s; a fourth would not, so it stops before sleeping it
    assert len(slept) == 3
    assert sum(slept) <= 100
    assert len(calls) == 4
    assert session.stats.rate_limited == 4
    assert session.stats.retries == 3


def test_a_source_that_keeps_failing_gives_up_after_its_attempts() -> None:
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="<html><body>Service Unavailable</body></html>")

    session = _session(handler, RetryPolicy(max_attempts=5, max_wait=600, base_delay=0.01), slept)
    with pytest.raises(ProviderUnavailable) as info:
        session.get("https://api.clever.com/v3.0/sections")

    assert info.value.message == "Clever answered HTTP 503 5 times in a row; giving up"
    assert session.stats.server_errors == 5
    assert len(slept) == 4


def test_an_unreachable_source_gives_up_naming_the_network_failure() -> None:
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    session = _session(handler, RetryPolicy(max_attempts=3, base_delay=0.01), slept)
    with pytest.raises(ProviderUnavailable) as info:
        session.get("https://api.clever.com/v3.0/schools")

    assert info.value.message.startswith("Could not reach Clever after 3 attempts: connection failed")
    assert session.stats.network_errors == 3
    assert len(slept) == 2


def test_a_burst_shorter_than_the_bound_is_ridden_out() -> None:
    slept: list[float] = []
    answers = iter([503, 502, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, headers={"Retry-After": "1"} if status == 429 else {})

    session = _session(handler, RetryPolicy(max_attempts=5, base_delay=0.01), slept)
    response = session.get("https://api.clever.com/v3.0/users")

    assert response.status_code == 200
    assert session.stats.as_dict()["byStatus"] == {"200": 1, "429": 1, "502": 1, "503": 1}
    assert session.stats.retries == 3
