"""What the shared HTTP session waits for: rate-limit resets on 429, backoff on 5xx."""

from __future__ import annotations

import time

import httpx

from libs.connectors.http import HttpSession, RetryPolicy, build_client, credential_key, retry_after_seconds


def test_lowercase_and_multi_bucket_reset_headers_wait_for_the_latest_reset() -> None:
    now = 1_700_000_000.0
    single = httpx.Response(429, headers={"x-ratelimit-reset": str(int(now) + 7)})
    buckets = httpx.Response(429, headers={"X-Ratelimit-Reset": f"{int(now) + 3}, {int(now) + 12}"})

    assert retry_after_seconds(single, now) == 7
    assert retry_after_seconds(buckets, now) == 12


def test_retry_after_wins_over_the_reset_header() -> None:
    response = httpx.Response(429, headers={"Retry-After": "2", "X-RateLimit-Reset": "1700000060"})

    assert retry_after_seconds(response, 1_700_000_000.0) == 2


def test_a_server_error_backs_off_instead_of_waiting_for_the_rate_limit_window() -> None:
    # Clever puts X-RateLimit-Reset on every answer, 5xx included
    answers = iter([503, 200])
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"x-ratelimit-reset": str(int(time.time()) + 55)})

    session = HttpSession(
        build_client(transport=httpx.MockTransport(handler)),
        policy=RetryPolicy(base_delay=0.5),
        sleep=slept.append,
    )
    response = session.get("https://api.example/x")
    session.close()

    assert response.status_code == 200
    assert len(slept) == 1
    assert slept[0] <= 0.5
    assert session.stats.as_dict()["byStatus"] == {"200": 1, "503": 1}


def test_a_429_waits_until_the_reset_the_server_names() -> None:
    answers = iter([429, 200])
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"x-ratelimit-reset": str(int(time.time()) + 30)})

    session = HttpSession(build_client(transport=httpx.MockTransport(handler)), sleep=slept.append)
    session.get("https://api.example/x")
    session.close()

    assert 28 <= slept[0] <= 31
    assert session.stats.rate_limited == 1


def test_credential_keys_do_not_reveal_the_credential() -> None:
    key = credential_key("clever", "very-secret-token")

    assert "very-secret-token" not in key
    assert key == credential_key("clever", "very-secret-token")
    assert key != credential_key("clever", "another-token")


def test_an_untrusted_certificate_fails_at_once_without_retries() -> None:
    import httpx
    import pytest

    from libs.connectors.errors import ProviderUnavailable
    from libs.connectors.http import HttpSession

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")

    session = HttpSession(httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None)
    with pytest.raises(ProviderUnavailable) as info:
        session.get("https://sis.example.org/ims/oneroster/v1p1/orgs")
    assert not info.value.retriable
    assert "TLS handshake failed" in info.value.message
    assert len(calls) == 1
    assert session.stats.retries == 0
